; Installer of 警务协同 (Jingwu) for Windows x86_64, built on Linux with
; Debian's makensis by scripts/package-windows.sh (Tauri's own NSIS bundler
; downloads NSIS and its plugins at build time, which the build machines
; cannot do). Per-user: no administrator rights, installs into
; %LOCALAPPDATA%\Programs\Jingwu, registers its uninstaller under HKCU.
;
; Defines (from package-windows.sh):
;   VERSION      x.y.z, the workspace version
;   STATION_EXE  path of jingwu-station.exe to package
;   DESKTOP_EXE  path of the desktop app jingwu.exe (optional), and then
;   WEBVIEW2_LOADER  path of WebView2Loader.dll, which a desktop app built
;                with mingw loads at start (from the webview2-com-sys crate)
;   OUTFILE      path of the setup program to write
;   FAST         (optional) quick zlib compression instead of solid LZMA,
;                for test builds
;
; The user's data (%APPDATA%\Jingwu, %APPDATA%\cn.gov.leishan.jingwu) is
; never touched by the installer or the uninstaller.

!ifndef VERSION | STATION_EXE | OUTFILE
  !error "需要 -DVERSION=… -DSTATION_EXE=… -DOUTFILE=…"
!endif
!ifdef DESKTOP_EXE
!ifndef WEBVIEW2_LOADER
  !error "带桌面程序时需要 -DWEBVIEW2_LOADER=…"
!endif
!endif

Unicode true
Target amd64-unicode
!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif
RequestExecutionLevel user
ManifestDPIAware true

!define PRODUCT "警务协同"
!define PUBLISHER "雷山县公安局"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Jingwu"
; The Evergreen WebView2 runtime's client id (EdgeUpdate).
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Jingwu"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=2052 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=2052 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=2052 "FileDescription" "${PRODUCT} 安装程序"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "LegalCopyright" "${PUBLISHER}"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"

; Started by the desktop app's updater (tauri-plugin-updater, docs/updates.md):
;   /P       passive: no questions (this installer then runs silently)
;   /R       start the desktop app again when done
;   /UPDATE  an update over an installed version: wait for the app to exit
;   /ARGS …  the app's own command line, given back to it on restart
Var UpdateMode
Var RestartApp
Var AppArgs

Function .onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/P" $R1
  ${IfNot} ${Errors}
    SetSilent silent
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/UPDATE" $R1
  ${IfNot} ${Errors}
    StrCpy $UpdateMode 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/R" $R1
  ${IfNot} ${Errors}
    StrCpy $RestartApp 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/ARGS" $AppArgs
  ${If} ${Errors}
    StrCpy $AppArgs ""
  ${EndIf}
FunctionEnd

Function .onInstSuccess
!ifdef DESKTOP_EXE
  ${If} $RestartApp == 1
    Exec '"$INSTDIR\jingwu.exe" $AppArgs'
  ${EndIf}
!endif
FunctionEnd

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "SimpChinese"

!define WEBVIEW2_MISSING "未检测到 Microsoft Edge WebView2 运行时，警务协同桌面程序需要它才能打开窗口。$\r$\n$\r$\n\
请向县局信息通信部门索取 WebView2 运行时离线安装包（微软“Evergreen Standalone Installer”，x64）并安装，然后再打开警务协同。$\r$\n$\r$\n\
在此之前，命令行程序 jingwu-station 照常可用。"

; Appends one line to $INSTDIR\install.log (UTF-16LE, readable in Notepad).
!macro LOG text
  Push "${text}"
  Call LogLine
!macroend

Function LogLine
  Exch $0
  Push $1
  ClearErrors
  FileOpen $1 "$INSTDIR\install.log" a
  ${IfNot} ${Errors}
    FileSeek $1 0 END
    FileWriteUTF16LE $1 "$0$\r$\n"
    FileClose $1
  ${EndIf}
  DetailPrint "$0"
  Pop $1
  Pop $0
FunctionEnd

; Sets $0 to the installed WebView2 runtime version, or "" when there is
; none ("0.0.0.0" is what a removed runtime leaves behind).
Function WebView2Version
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ${EndIf}
  ${If} $0 == "0.0.0.0"
    StrCpy $0 ""
  ${EndIf}
FunctionEnd

Section "${PRODUCT}" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A fresh log per install (UTF-16LE byte-order mark first).
  Delete "$INSTDIR\install.log"
  FileOpen $1 "$INSTDIR\install.log" w
  FileWriteWord $1 0xFEFF
  FileClose $1
  !insertmacro LOG "安装 ${PRODUCT} ${VERSION} 到 $INSTDIR"

  ${If} $UpdateMode == 1
    !insertmacro LOG "更新：等待警务协同退出后替换程序文件"
    ; The app exits to let the update in; its files may stay locked for a
    ; moment. Up to 15 s, then the files are written (or the error shown).
    StrCpy $R2 0
    ${Do}
      Delete "$INSTDIR\jingwu.exe"
      Delete "$INSTDIR\jingwu-station.exe"
      ${IfNot} ${FileExists} "$INSTDIR\jingwu.exe"
      ${AndIfNot} ${FileExists} "$INSTDIR\jingwu-station.exe"
        ${Break}
      ${EndIf}
      IntOp $R2 $R2 + 1
      ${If} $R2 > 30
        ${Break}
      ${EndIf}
      Sleep 500
    ${Loop}
  ${EndIf}
  File "/oname=jingwu-station.exe" "${STATION_EXE}"
!ifdef DESKTOP_EXE
  File "/oname=jingwu.exe" "${DESKTOP_EXE}"
  File "/oname=WebView2Loader.dll" "${WEBVIEW2_LOADER}"
!endif
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS\${PRODUCT}"
!ifdef DESKTOP_EXE
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk" "$INSTDIR\jingwu.exe" "" "$INSTDIR\jingwu.exe" 0
!endif
  ; The station CLI is a console program: open a command window in the
  ; install folder showing its commands.
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\${PRODUCT} 命令行.lnk" "$SYSDIR\cmd.exe" \
    '/k cd /d "$INSTDIR" && jingwu-station.exe --help' "$INSTDIR\jingwu-station.exe" 0
  CreateShortCut "$SMPROGRAMS\${PRODUCT}\卸载${PRODUCT}.lnk" "$INSTDIR\uninstall.exe"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
!ifdef DESKTOP_EXE
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\jingwu.exe"
!else
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\jingwu-station.exe"
!endif
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1

  Call WebView2Version
  ${If} $0 == ""
    !insertmacro LOG "未检测到 WebView2 运行时：请向县局信息通信部门索取 WebView2 运行时离线安装包（微软 Evergreen Standalone Installer，x64）并安装；命令行程序 jingwu-station 照常可用。"
    MessageBox MB_OK|MB_ICONEXCLAMATION "${WEBVIEW2_MISSING}" /SD IDOK
  ${Else}
    !insertmacro LOG "WebView2 运行时版本 $0"
  ${EndIf}
  !insertmacro LOG "安装完成"
SectionEnd

Section "Uninstall"
  Delete "$INSTDIR\jingwu-station.exe"
  Delete "$INSTDIR\jingwu.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\install.log"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}\${PRODUCT}.lnk"
  Delete "$SMPROGRAMS\${PRODUCT}\${PRODUCT} 命令行.lnk"
  Delete "$SMPROGRAMS\${PRODUCT}\卸载${PRODUCT}.lnk"
  RMDir "$SMPROGRAMS\${PRODUCT}"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd
