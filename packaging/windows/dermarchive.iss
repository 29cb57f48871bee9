; Inno Setup script for DermArchive on Windows (untested here; see packaging/README.md).
;   1. python -m PyInstaller --noconfirm packaging\dermarchive.spec   -> dist\DermArchive\
;   2. sign dist\DermArchive\*.exe with signtool (README)
;   3. iscc /DAppVersion=0.1.0 packaging\windows\dermarchive.iss      -> dist\DermArchive-0.1.0-setup.exe
;   4. sign the setup .exe the same way
; Installs per user by default (no administrator needed in a clinic), or for all users when the
; installer is run as administrator. Uninstalling never touches archives: they live wherever the
; user created them, and the app's state folder under %LOCALAPPDATA%\DermArchive is kept too.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{7C1E6A52-3B4F-4F4E-9C6B-5D2A8E0F4B11}
AppName=DermArchive
AppVersion={#AppVersion}
AppPublisher=The DermArchive team
DefaultDirName={autopf}\DermArchive
DefaultGroupName=DermArchive
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=DermArchive-{#AppVersion}-setup
SetupIconFile=..\..\resources\app-icon\dermarchive.ico
UninstallDisplayIcon={app}\DermArchive.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Files]
Source: "..\..\dist\DermArchive\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; The windowed executable: no console window behind the app.
Name: "{group}\DermArchive"; Filename: "{app}\DermArchive.exe"
Name: "{autodesktop}\DermArchive"; Filename: "{app}\DermArchive.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\DermArchive.exe"; Description: "Open DermArchive"; Flags: nowait postinstall skipifsilent
