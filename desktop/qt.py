"""The one module that imports Qt; the rest of ``desktop`` imports from here."""

from __future__ import annotations

from PySide6.QtCore import (  # noqa: F401
    QAbstractTableModel, QModelIndex, QObject, QRunnable, QSettings, QSize, Qt, QThreadPool,
    QTimer, QUrl, Signal, Slot,
)
from PySide6.QtGui import (  # noqa: F401
    QAction, QActionGroup, QBrush, QColor, QDesktopServices, QFont, QIcon, QKeySequence,
    QPalette, QTextCursor,
)
from PySide6.QtWidgets import (  # noqa: F401
    QAbstractItemView, QApplication, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
    QFormLayout, QFrame, QGroupBox, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit,
    QListWidget, QListWidgetItem, QMainWindow, QMenu, QMessageBox, QPlainTextEdit, QProgressBar,
    QPushButton, QSizePolicy, QSpinBox, QSplitter, QStackedWidget, QStatusBar, QTableWidget,
    QTableWidgetItem, QTabWidget, QTextBrowser, QToolBar, QTreeWidget, QTreeWidgetItem,
    QVBoxLayout, QWidget,
)
