# The two commands of the README. Both set up .venv first (a no-op when up to date).
.PHONY: app test setup

setup:
	@bash installers/dev-setup.sh

app: setup
	@bash installers/desktop-deps.sh
	@.venv/bin/scriptorium --sample

test: setup
	@bash installers/run-tests.sh
