@echo off
rem The `dermarchive` command on Windows (installed into {app}\bin, which the installer puts on
rem PATH): runs the console executable beside the app with the same arguments and exit code.
"%~dp0..\dermarchive-cli.exe" %*
exit /b %ERRORLEVEL%
