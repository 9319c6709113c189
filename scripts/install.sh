#!/bin/sh
# Installs the qwen binary (OpenAI-compatible gateway for Qwen) for this user, without root:
#
#   curl -fsSL <releases>/latest/download/install.sh | sh
#
# Detects the platform, downloads the release's archive (or the plain binary without tar), checks
# it against the release's SHA256SUMS, and moves it into ~/.local/bin (or QWEN_INSTALL_DIR).
# Variables: QWEN_VERSION, QWEN_INSTALL_DIR, QWEN_INSTALL_NAME, QWEN_INSTALL_FORCE,
# QWEN_DOWNLOAD_URL. POSIX sh only (dash, busybox ash, bash --posix). Design: docs/install.md.
#
# Everything runs from main(), called on the last line, so a download cut short runs nothing.

set -u

# The build (npm run build) writes the releases' address here; the copy in the source tree keeps a
# placeholder, and then only QWEN_DOWNLOAD_URL tells where to download from.
default_base='@RELEASES_URL@'

supported='Linux x64, Linux arm64, macOS x64, macOS arm64'
cr=$(printf '\r')

work=''
swap=''

say() { printf '%s\n' "$*" >&2; }

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  if [ -n "$swap" ]; then rm -f "$swap"; fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}

has() { command -v "$1" >/dev/null 2>&1; }

# --- configuration ----------------------------------------------------------------------------

# What `qwen` binaries of this project contain: the repository's address, derived from the
# releases' one ("github.com/OWNER/NAME"). Found by reading the file, never by running it: the
# official Qwen Code CLI is also called qwen and may start a session.
marker() {
  case $default_base in
    *://*)
      m=${default_base#*://}
      m=${m%/}
      printf '%s' "${m%/releases}"
      ;;
  esac
}

resolve_base() {
  base=${QWEN_DOWNLOAD_URL:-}
  if [ -z "$base" ]; then
    case $default_base in
      *://*) base=$default_base ;;
      *)
        die "Cannot tell where to download qwen from: this install.sh is the source tree's copy, which has no release address. Use the install.sh published with each release, or set QWEN_DOWNLOAD_URL to a releases base URL"
        ;;
    esac
  fi
  while :; do
    case $base in
      */) base=${base%/} ;;
      *) break ;;
    esac
  done
  case $base in
    http://?* | https://?*) ;;
    *) die "Invalid QWEN_DOWNLOAD_URL \"$base\": expected an http:// or https:// URL, e.g. \"https://example.com/qwen/releases\"" ;;
  esac
}

# A version as releases name it: digits first, then letters, digits, dots, "-" or "+" only.
valid_version() {
  case $1 in
    [0-9]*) ;;
    *) return 1 ;;
  esac
  case $1 in
    *[!0-9A-Za-z.+-]*) return 1 ;;
  esac
  return 0
}

# QWEN_VERSION: "0.2.0" or "v0.2.0"; unset, empty or "latest" for the latest release.
resolve_requested_version() {
  requested=${QWEN_VERSION:-}
  case $requested in
    '' | latest) requested='' ;;
    *)
      requested=${requested#v}
      valid_version "$requested" ||
        die "Invalid QWEN_VERSION \"$QWEN_VERSION\": expected a version such as \"0.2.0\" or \"v0.2.0\""
      ;;
  esac
}

resolve_target() {
  name=${QWEN_INSTALL_NAME:-qwen}
  case $name in
    . | .. | -* | *[!0-9A-Za-z._-]*)
      die "Invalid QWEN_INSTALL_NAME \"$name\": expected a file name of letters, digits, \".\", \"_\" or \"-\", e.g. \"qwen-proxy\""
      ;;
  esac
  if [ -n "${QWEN_INSTALL_DIR:-}" ]; then
    dir=$QWEN_INSTALL_DIR
  elif [ -n "${HOME:-}" ]; then
    dir=$HOME/.local/bin
  else
    die "Cannot choose where to install qwen: HOME is not set; set QWEN_INSTALL_DIR to a folder of yours"
  fi
  case $dir in
    /*) ;;
    *) dir=$(pwd)/$dir ;;
  esac
  while :; do
    case $dir in
      ?*/) dir=${dir%/} ;;
      *) break ;;
    esac
  done
  target=$dir/$name
  force=0
  case ${QWEN_INSTALL_FORCE:-} in
    '' | 0) ;;
    1) force=1 ;;
    *) die "Invalid QWEN_INSTALL_FORCE \"$QWEN_INSTALL_FORCE\": expected \"1\" (or unset)" ;;
  esac
}

# --- platform ---------------------------------------------------------------------------------

detect_platform() {
  os_name=$(uname -s 2>/dev/null) || os_name=''
  arch_name=$(uname -m 2>/dev/null) || arch_name=''
  case $os_name in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      die "Cannot install qwen with install.sh on Windows (\"$os_name\"): download qwen-bun-windows-x64.zip and SHA256SUMS from the release instead (README, \"Install\")"
      ;;
    *) os='' ;;
  esac
  case $arch_name in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch='' ;;
  esac
  if [ -z "$os" ] || [ -z "$arch" ]; then
    die "Cannot install qwen on \"${os_name:-unknown} ${arch_name:-unknown}\": there is no release binary for it (supported: $supported)"
  fi
  # A shell under Rosetta on Apple silicon says x86_64; the native binary is the better one.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] &&
    [ "$(sysctl -n sysctl.proc_translated 2>/dev/null)" = 1 ]; then
    arch=arm64
  fi
  platform=$os-$arch
}

# --- tools ------------------------------------------------------------------------------------

pick_tools() {
  if has curl; then
    downloader=curl
  elif has wget; then
    downloader=wget
  else
    die "Cannot download qwen: neither curl nor wget is installed; install one of them and run this again"
  fi
  if has sha256sum; then
    hasher=sha256sum
  elif has shasum; then
    hasher=shasum
  else
    die "Cannot verify the download: neither sha256sum (coreutils) nor shasum (perl) is installed; install one of them and run this again"
  fi
  # GNU tar runs gzip for -z; bsdtar (macOS) has it built in, and macOS ships gzip anyway.
  if has tar && has gzip; then
    use_archive=1
  else
    use_archive=0
  fi
}

# fetch URL FILE [progress]: downloads URL into FILE. On failure: returns 1 with FILE removed,
# fetch_reason set and fetch_missing=1 when the server said the file is not there.
fetch() {
  fetch_reason=''
  fetch_missing=0
  if [ "$downloader" = curl ]; then
    if [ "${3:-}" = progress ] && [ -t 2 ]; then
      fetch_code=$(curl -fL --progress-bar --retry 3 -w '%{http_code}' -o "$2" "$1")
      fetch_rc=$?
      : >"$work/fetch.err"
    else
      fetch_code=$(curl -fsSL --retry 3 -w '%{http_code}' -o "$2" "$1" 2>"$work/fetch.err")
      fetch_rc=$?
    fi
    [ "$fetch_rc" -eq 0 ] && return 0
    case $fetch_code in
      404 | 410) fetch_missing=1 fetch_reason="not found (HTTP $fetch_code)" ;;
      [1-5][0-9][0-9]) fetch_reason="the server answered HTTP $fetch_code" ;;
      *)
        fetch_reason=''
        while IFS= read -r fetch_line; do
          [ -n "$fetch_line" ] && fetch_reason=$fetch_line
        done <"$work/fetch.err"
        fetch_reason=${fetch_reason#curl: }
        [ -n "$fetch_reason" ] || fetch_reason="curl exited $fetch_rc"
        ;;
    esac
  else
    wget -q -O "$2" "$1"
    fetch_rc=$?
    [ "$fetch_rc" -eq 0 ] && return 0
    case $fetch_rc in
      8) fetch_missing=1 fetch_reason='the server answered with an error (wget exit 8: e.g. 404 not found)' ;;
      4) fetch_reason='network failure (wget exit 4)' ;;
      5) fetch_reason='TLS certificate verification failed (wget exit 5)' ;;
      *) fetch_reason="wget exited $fetch_rc" ;;
    esac
  fi
  rm -f "$2"
  return 1
}

# The SHA-256 of a file, lower-case hex. Read from stdin, so no file name needs quoting.
file_hash() {
  if [ "$hasher" = sha256sum ]; then
    sha256sum <"$1"
  else
    shasum -a 256 <"$1"
  fi | {
    read -r fh_hash _
    printf '%s' "$fh_hash"
  }
}

# The hash SHA256SUMS (sha256sum format: "<hex>  <file>", "*<file>" in binary mode) lists for a
# file, or nothing.
listed_hash() {
  while read -r sum_hash sum_file; do
    sum_file=${sum_file%"$cr"}
    if [ "$sum_file" = "$2" ] || [ "$sum_file" = "*$2" ]; then
      printf '%s' "$sum_hash"
      return 0
    fi
  done <"$1"
}

# --- what is on PATH --------------------------------------------------------------------------

# Calls "$1" with each folder of PATH in order (empty entries skipped); stops when it returns 0.
each_path_dir() {
  pd_rest=${PATH:-}
  while [ -n "$pd_rest" ]; do
    pd_dir=${pd_rest%%:*}
    case $pd_rest in
      *:*) pd_rest=${pd_rest#*:} ;;
      *) pd_rest='' ;;
    esac
    pd_dir=${pd_dir%/}
    [ -n "$pd_dir" ] || continue
    "$1" "$pd_dir" && return 0
  done
  return 1
}

same_dir() {
  [ "$1" = "$2" ] && return 0
  sd_a=$(cd "$1" 2>/dev/null && pwd -P) || return 1
  sd_b=$(cd "$2" 2>/dev/null && pwd -P) || return 1
  [ "$sd_a" = "$sd_b" ]
}

is_ours() {
  [ -n "$ours_marker" ] && grep -aqF "$ours_marker" "$1" 2>/dev/null
}

# Sets `other` to the first "$name" on PATH, outside the install folder, that is not ours.
find_other_() {
  same_dir "$1" "$dir" && return 1
  [ -f "$1/$name" ] && [ -x "$1/$name" ] || return 1
  is_ours "$1/$name" && return 1
  other=$1/$name
  return 0
}

# Sets `first` to the "$name" that a shell would run: the first one on PATH.
find_first_() {
  [ -f "$1/$name" ] && [ -x "$1/$name" ] || return 1
  first=$1/$name
  return 0
}

on_path_() { same_dir "$1" "$dir"; }

check_conflicts() {
  other=''
  each_path_dir find_other_
  if [ -d "$target" ]; then
    die "Cannot install \"$target\": it is a folder; choose another QWEN_INSTALL_NAME or QWEN_INSTALL_DIR"
  fi
  if [ -e "$target" ] && ! is_ours "$target"; then
    replaced=$target
  else
    replaced=''
  fi
  [ -z "$other" ] && [ -z "$replaced" ] && return 0
  [ "$force" = 1 ] && return 0
  if [ -n "$replaced" ]; then
    what="\"$replaced\" is another program (not this project's qwen; the official Qwen Code CLI is also called qwen)"
    anyway="install it as \"$name\" anyway, replacing that file"
  else
    what="another \"$name\" is on PATH: \"$other\" (not this project's; the official Qwen Code CLI is also called qwen)"
    anyway="install it as \"$name\" anyway, beside the other one"
  fi
  alt=$name-proxy
  [ "$name" = qwen ] && alt=qwen-proxy
  printf 'error: Cannot install "%s": %s. Run this script again with one of:\n' "$target" "$what" >&2
  printf '  %-28s  %s\n' "QWEN_INSTALL_NAME=$alt" "install this one as \"$alt\" instead" \
    "QWEN_INSTALL_FORCE=1" "$anyway" >&2
  case $default_base in
    *://*) printf 'e.g. curl -fsSL %s/latest/download/install.sh | QWEN_INSTALL_NAME=%s sh\n' "$default_base" "$alt" >&2 ;;
  esac
  exit 1
}

# --- the install ------------------------------------------------------------------------------

make_work_dir() {
  old_umask=$(umask)
  umask 077
  work=$(mktemp -d "${TMPDIR:-/tmp}/qwen-install.XXXXXX" 2>/dev/null) || work=''
  if [ -z "$work" ]; then
    work=${TMPDIR:-/tmp}/qwen-install.$$
    mkdir "$work" 2>/dev/null || {
      work=''
      die "Cannot create a temporary folder in \"${TMPDIR:-/tmp}\"; set TMPDIR to a writable folder"
    }
  fi
  umask "$old_umask"
}

prepare_dir() {
  mkdir -p "$dir" 2>/dev/null ||
    die "Cannot create \"$dir\": permission denied or not a folder; set QWEN_INSTALL_DIR to a folder of yours (this script never uses sudo)"
  [ -d "$dir" ] && [ -w "$dir" ] ||
    die "Cannot write to \"$dir\": permission denied; set QWEN_INSTALL_DIR to a folder of yours (this script never uses sudo)"
}

resolve_version() {
  if [ -n "$requested" ]; then
    version=$requested
    return 0
  fi
  # The latest release's files are taken from its own folder (download/v<X>/), so that the
  # checksums and the binary come from one release even if another is published meanwhile.
  version_url=$base/latest/download/VERSION
  if ! fetch "$version_url" "$work/VERSION"; then
    if [ "$fetch_missing" = 1 ]; then
      die "Cannot find the latest release: downloading \"$version_url\" failed: $fetch_reason. Is QWEN_DOWNLOAD_URL (\"$base\") a releases base URL?"
    fi
    die "Cannot download \"$version_url\": $fetch_reason"
  fi
  version=''
  IFS= read -r version <"$work/VERSION" || true
  version=${version%"$cr"}
  version=${version#v}
  valid_version "$version" ||
    die "Cannot read the latest version from \"$version_url\": expected one line such as \"0.2.0\""
}

download_verified() {
  release=$base/download/v$version
  sums_url=$release/SHA256SUMS
  if ! fetch "$sums_url" "$work/SHA256SUMS"; then
    if [ "$fetch_missing" = 1 ]; then
      die "Cannot download qwen $version: \"$sums_url\": $fetch_reason. Is \"$version\" a released version? The releases: $base"
    fi
    die "Cannot download \"$sums_url\": $fetch_reason"
  fi
  if [ "$use_archive" = 1 ]; then
    file=qwen-bun-$platform.tar.gz
  else
    file=qwen-bun-$platform
  fi
  expected=$(listed_hash "$work/SHA256SUMS" "$file")
  [ -n "$expected" ] ||
    die "Cannot verify \"$file\": it is not listed in \"$sums_url\"; nothing was downloaded or installed"
  case $expected in
    *[!0-9a-f]*) expected='' ;;
  esac
  [ "${#expected}" -eq 64 ] ||
    die "Cannot verify \"$file\": its line in \"$sums_url\" holds no SHA-256 (64 lower-case hex digits); nothing was downloaded or installed"
  say "Downloading qwen $version for $platform: $release/$file"
  if ! fetch "$release/$file" "$work/$file" progress; then
    die "Cannot download \"$release/$file\": $fetch_reason"
  fi
  actual=$(file_hash "$work/$file")
  if [ "$actual" != "$expected" ]; then
    rm -f "$work/$file"
    die "Cannot verify \"$file\": its SHA-256 is $actual but \"$sums_url\" says $expected; the download was deleted and nothing was installed"
  fi
  say "Verified $file against $sums_url"
  if [ "$use_archive" = 1 ]; then
    mkdir "$work/x" && tar -xzf "$work/$file" -C "$work/x" 2>"$work/tar.err" ||
      die "Cannot unpack \"$file\": $(cat "$work/tar.err" 2>/dev/null)"
    binary=$work/x/qwen
    [ -f "$binary" ] || die "Cannot unpack \"$file\": it holds no file named \"qwen\""
  else
    binary=$work/$file
  fi
}

# Copies the binary beside its final place, checks that it runs here, then renames it over the
# old one: a failure at any point leaves the old one as it was.
install_binary() {
  swap=$dir/.$name.install.$$
  cp "$binary" "$swap" 2>/dev/null || die "Cannot write \"$swap\": the disk may be full or the folder not writable"
  chmod 755 "$swap" || die "Cannot make \"$swap\" executable"
  reported=$("$swap" --version 2>"$work/run.err")
  run_rc=$?
  if [ "$run_rc" -ne 0 ]; then
    run_err=''
    while IFS= read -r line; do
      [ -n "$line" ] && [ -z "$run_err" ] && run_err=": $line"
    done <"$work/run.err"
    die "Cannot run the downloaded qwen $version on this machine ($os_name $arch_name): \"qwen --version\" exited $run_rc$run_err; nothing was installed"
  fi
  mv -f "$swap" "$target" || die "Cannot move the new binary to \"$target\""
  swap=''
}

report() {
  printf 'Installed qwen %s (%s) as "%s".\n' "${reported:-$version}" "$platform" "$target"
  run_as=$name
  first=''
  if ! each_path_dir on_path_; then
    run_as=$target
    case ${SHELL:-} in
      */zsh) rc='~/.zshrc' ;;
      */bash) if [ "$os" = darwin ]; then rc='~/.bash_profile'; else rc='~/.bashrc'; fi ;;
      */fish) rc='' ;;
      *) rc='~/.profile' ;;
    esac
    # In the line to add, the folder as $HOME/... when it is in the home folder.
    shown=$dir
    if [ -n "${HOME:-}" ] && [ "$HOME" != / ]; then
      case $dir in
        "$HOME"/*) shown='$HOME'${dir#"$HOME"} ;;
      esac
    fi
    printf '\n"%s" is not on your PATH. ' "$dir"
    if [ -z "$rc" ]; then
      printf 'Add it with:\n  fish_add_path "%s"\n' "$shown"
    else
      printf 'Add this line to %s and open a new terminal:\n  export PATH="%s:$PATH"\n' "$rc" "$shown"
    fi
  else
    each_path_dir find_first_
    if [ -n "$first" ] && [ "$first" != "$target" ] && ! same_dir "${first%/*}" "$dir"; then
      printf '\nNote: "%s" comes first on PATH, so "%s" runs that one; run "%s" or put "%s" earlier on PATH.\n' \
        "$first" "$name" "$target" "$dir"
    fi
  fi
  if [ -n "$other" ] && [ "$other" != "$first" ] || [ -n "$replaced" ]; then
    if [ -n "$replaced" ]; then
      printf '\nReplaced "%s", which was another program (QWEN_INSTALL_FORCE=1).\n' "$replaced"
    else
      printf '\nNote: another "%s" is also on PATH: "%s" (not this project'"'"'s).\n' "$name" "$other"
    fi
  fi
  case $run_as in
    *[!0-9A-Za-z._/-]*) run_as="\"$run_as\"" ;;
  esac
  printf '\nNext steps:\n'
  printf '  1. Store an API key (other providers: "%s auth --help"):\n' "$name"
  printf '       %s auth --provider coding-plan\n' "$run_as"
  printf '  2. Run "%s serve" in the background, started at login:\n' "$name"
  printf '       %s service install\n' "$run_as"
}

main() {
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  resolve_base
  resolve_requested_version
  resolve_target
  detect_platform
  pick_tools
  ours_marker=$(marker)
  check_conflicts
  prepare_dir
  make_work_dir
  resolve_version
  download_verified
  install_binary
  report
}

main "$@"
