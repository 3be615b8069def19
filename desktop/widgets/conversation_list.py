"""The saved conversations of a drafting session: a search box, the list, and "New
conversation". Searching and opening read the files on a worker thread (the newest search
wins); a click emits ``opened`` with the conversation."""

from __future__ import annotations

from core.drafting.conversations import Conversation
from core.drafting.session import DraftSession
from desktop.ops import CoreOp
from desktop.qt import QLineEdit, QListWidget, QListWidgetItem, Qt, QVBoxLayout, QWidget, Signal
from desktop.widgets.buttons import button


class ConversationList(QWidget):
    opened = Signal(object)  # the Conversation
    new = Signal()

    def __init__(self, session: DraftSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.enabled = lambda: True  # whether a click may open a conversation now
        self._serial = 0
        self.search = QLineEdit()
        self.search.setObjectName("conversationSearch")
        self.search.setPlaceholderText("Search conversations")
        self.search.textChanged.connect(lambda _: self.refresh())
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setWordWrap(True)  # long titles wrap rather than scroll sideways
        self.list.itemClicked.connect(self._open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(button("New conversation", "newConversation", self.new.emit))

    def refresh(self) -> None:
        self._serial += 1
        serial, query = self._serial, self.search.text()
        CoreOp(self, lambda: self.session.find(query)).success(
            lambda found: self._show(serial, found)).run()

    def _show(self, serial: int, found: list[Conversation]) -> None:
        if serial != self._serial:
            return  # an older search finished after a newer one started
        self.list.clear()
        for conversation in found:
            item = QListWidgetItem(conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            item.setToolTip(conversation.updated)
            self.list.addItem(item)

    def _open(self, item: QListWidgetItem) -> None:
        if not self.enabled():
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        CoreOp(self, lambda: self.session.read(conversation_id)).success(self.opened.emit).run()
