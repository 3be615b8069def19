@echo off
rem Scriptorium launcher for Windows. Put this file next to the "venv" folder the install
rem guide creates (e.g. C:\Program Files\Scriptorium) and pin a shortcut to it in the Start
rem menu. Arguments pass through: "Scriptorium.cmd doctor" prints the installation report.
setlocal
set "HERE=%~dp0"
if not exist "%HERE%venv\Scripts\scriptorium.exe" (
  echo Scriptorium is not installed next to this launcher: "%HERE%venv" is missing.
  echo See INSTALL.md, "Windows".
  exit /b 1
)
"%HERE%venv\Scripts\scriptorium.exe" %*
