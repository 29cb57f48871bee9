; Inno Setup 6 script for DermArchive on Windows. NOT BUILT HERE (Linux): the Windows CI job
; (.github/workflows/windows.yml) compiles it; see packaging/README.md.
;   1. python -m PyInstaller --noconfirm packaging\dermarchive.spec   -> dist\DermArchive\
;   2. sign dist\DermArchive\*.exe with signtool (README)
;   3. unsigned:  iscc /DAppVersion=0.1.0 packaging\windows\dermarchive.iss
;      signed:    iscc /DAppVersion=0.1.0 /DSign "/Sdermarchive=signtool sign /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 /sha1 THUMBPRINT $f" packaging\windows\dermarchive.iss
;      -> dist\DermArchive-0.1.0-setup.exe; with /DSign, Inno Setup calls that command for the
;      setup program AND for the uninstaller it embeds (SignedUninstaller), so both are signed.
;
; Installs per user by default (no administrator needed in a clinic: %LOCALAPPDATA%\Programs\
; DermArchive), or for all users when run as administrator / with /ALLUSERS (Program Files).
; The command line: {app}\bin\dermarchive.cmd runs dermarchive-cli.exe, and {app}\bin is added
; to the user's (or, for all users, the system's) PATH, so `dermarchive …` works as on Linux in a
; new terminal; the uninstaller takes it off PATH again.
;
; Silent install for managed fleets (exit code 0 = success; see README):
;   DermArchive-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CURRENTUSER
;   DermArchive-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /ALLUSERS /LOG="C:\Temp\dermarchive-setup.log"
;   /TASKS="addtopath,desktopicon" picks tasks (addtopath is on by default; desktopicon off), /DIR="D:\Apps\DermArchive"
; Silent uninstall: "{app}\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Uninstalling removes exactly what was installed; it never touches archives (they live wherever
; the user created them) or the app's state folder %LOCALAPPDATA%\DermArchive.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{7C1E6A52-3B4F-4F4E-9C6B-5D2A8E0F4B11}
AppName=DermArchive
AppVersion={#AppVersion}
AppVerName=DermArchive {#AppVersion}
AppPublisher=The DermArchive team
VersionInfoVersion={#AppVersion}
VersionInfoProductName=DermArchive
DefaultDirName={autopf}\DermArchive
DefaultGroupName=DermArchive
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=DermArchive-{#AppVersion}-setup
SetupIconFile=..\..\resources\app-icon\dermarchive.ico
UninstallDisplayIcon={app}\DermArchive.exe
UninstallDisplayName=DermArchive {#AppVersion}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; PATH changes reach new terminals without a sign-out.
ChangesEnvironment=yes
; A running DermArchive is closed (after asking) before its files are replaced or removed.
CloseApplications=yes
RestartApplications=no
#ifdef Sign
; Signing hook: /DSign plus /Sdermarchive="…signtool command… $f" on the iscc command line.
SignTool=dermarchive
SignedUninstaller=yes
#endif

[Files]
Source: "..\..\dist\DermArchive\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "dermarchive.cmd"; DestDir: "{app}\bin"; Flags: ignoreversion

[Icons]
; The windowed executable: no console window behind the app.
Name: "{group}\DermArchive"; Filename: "{app}\DermArchive.exe"
Name: "{autodesktop}\DermArchive"; Filename: "{app}\DermArchive.exe"; Tasks: desktopicon

[Tasks]
Name: "addtopath"; Description: "Add the dermarchive command to PATH (for the command line and scripts)"
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\DermArchive.exe"; Description: "Open DermArchive"; Flags: nowait postinstall skipifsilent

[Code]
// PATH: {app}\bin is appended to the user's PATH (per-user install) or the system PATH (all
// users) when the addtopath task is chosen, and removed again by the uninstaller. Only that one
// entry is ever added or removed; the rest of PATH is left exactly as it was.
const
  UserEnv = 'Environment';
  SystemEnv = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';

function EnvRoot(): Integer;
begin
  if IsAdminInstallMode() then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvKey(): String;
begin
  if IsAdminInstallMode() then Result := SystemEnv else Result := UserEnv;
end;

function PathHas(Paths, Dir: String): Boolean;
begin
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') > 0;
end;

procedure AddToPath(Dir: String);
var
  Paths: String;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Paths) then Paths := '';
  if PathHas(Paths, Dir) then exit;
  if (Paths <> '') and (Copy(Paths, Length(Paths), 1) <> ';') then Paths := Paths + ';';
  RegWriteExpandStringValue(EnvRoot(), EnvKey(), 'Path', Paths + Dir);
end;

procedure RemoveFromPath(Dir: String);
var
  Paths: String;
  P: Integer;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Paths) then exit;
  Paths := ';' + Paths + ';';
  P := Pos(';' + Uppercase(Dir) + ';', Uppercase(Paths));
  if P = 0 then exit;
  Delete(Paths, P, Length(Dir) + 1);
  Paths := Copy(Paths, 2, Length(Paths) - 2);
  RegWriteExpandStringValue(EnvRoot(), EnvKey(), 'Path', Paths);
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and WizardIsTaskSelected('addtopath') then
    AddToPath(ExpandConstant('{app}\bin'));
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath(ExpandConstant('{app}\bin'));
end;
