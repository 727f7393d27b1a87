#!/usr/bin/env bash
# The Debian package, built and checked as an operator would meet it (issue 15, "The package"):
#   cpack → anteroom_<version>_<arch>.deb; its files, control fields and conffiles; systemd's
#   verdict on the unit; the unpacked binary started with the shipped config and the secrets
#   from the environment (as the unit gives them) serves /healthz and the operator API;
#   lintian finds no error.
# Usage: package_deb.sh BUILD_DIR VERSION ANTEROOM_BINARY
# It packages what BUILD_DIR has already built (CPack's install step builds nothing: see
# cmake/Packaging.cmake), into a temporary directory (BUILD_DIR gets only CMake's
# install_manifest.txt).
set -uo pipefail
BUILD=${1:?build dir} VERSION=${2:?version} BINARY=${3:?anteroom binary}

fail() { echo "package_deb: FAIL: $*" >&2; exit 1; }
step() { echo "package_deb: $*"; }

for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze lintian curl readelf; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (./dev test installs it)"
done
[ -x "$BINARY" ] || fail "$BINARY is not built (build the anteroom target first)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/anteroom-package.XXXXXX")
SERVER=""
cleanup() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -KILL "$SERVER"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- build the package --------------------------------------------------------------------
step "cpack -G DEB (from $BUILD)"
if ! cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/out" >"$TMP/cpack.log" 2>&1; then
  cat "$TMP/cpack.log" >&2
  fail "cpack failed"
fi
ARCH=$(dpkg --print-architecture)
DEB="$TMP/out/anteroom_${VERSION}_${ARCH}.deb"
[ -f "$DEB" ] || { ls -l "$TMP/out" >&2; fail "no $DEB"; }

# ---- its files --------------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $1, $NF}' >"$TMP/contents"
has() {  # has MODE PATH: the package holds PATH with these permissions
  grep -qxF -e "$1 ./$2" "$TMP/contents" && return
  cat "$TMP/contents" >&2
  fail "no $1 ./$2 in the package"
}
has -rwxr-xr-x usr/bin/anteroom
has -rw-r--r-- lib/systemd/system/anteroom.service
has -rw-r--r-- etc/anteroom/anteroom.conf
has -rw-r--r-- usr/share/doc/anteroom/copyright
has -rw-r--r-- usr/share/doc/anteroom/changelog.gz
has -rw-r--r-- usr/share/man/man1/anteroom.1.gz
has -rw-r--r-- usr/share/doc/anteroom/README.md
has -rw-r--r-- usr/share/doc/anteroom/configuration.md
has -rw-r--r-- usr/share/doc/anteroom/install.md
has -rw-r--r-- usr/share/doc/anteroom/examples/secrets.env.example
# Only the server: no test, tool or fuzz binary, no secrets file.
ours=' \./(usr/bin/anteroom|lib/systemd/system/anteroom\.service|etc/anteroom/anteroom\.conf'
ours+='|usr/share/doc/anteroom/.*|usr/share/man/man1/anteroom\.1\.gz)$'
others=$(grep -E '^-' "$TMP/contents" | grep -vE "$ours" || true)
[ -z "$others" ] || fail "unexpected files in the package: $others"
grep -q 'secrets\.env$' "$TMP/contents" && fail "the package must not ship secrets.env"
step "files: $(grep -c '^-' "$TMP/contents") ($(du -k "$DEB" | cut -f1) KiB .deb)"

# ---- control fields and conffiles -------------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = anteroom ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$VERSION" ] || fail "Version: $(field Version), want $VERSION"
[ "$(field Architecture)" = "$ARCH" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
[ "$(field Priority)" = optional ] || fail "Priority: $(field Priority)"
[[ "$(field Maintainer)" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] ||
  fail "Maintainer: $(field Maintainer)"
[ -n "$(field Description)" ] || fail "no Description"
DEPENDS=$(field Depends)
# Computed by dpkg-shlibdeps from what the binary links.
for lib in libc6 libstdc++6 librdkafka1 libhiredis libssl; do
  [[ "$DEPENDS" == *"$lib"* ]] || fail "Depends lacks $lib: $DEPENDS"
done
step "Depends: $DEPENDS"
dpkg-deb -e "$DEB" "$TMP/control"
grep -qxF /etc/anteroom/anteroom.conf "$TMP/control/conffiles" ||
  fail "conffiles does not list /etc/anteroom/anteroom.conf: $(cat "$TMP/control/conffiles")"

# ---- unpack: the binary is stripped; systemd accepts the unit -------------------------------
ROOT="$TMP/root"
dpkg-deb -x "$DEB" "$ROOT"
readelf -S "$ROOT/usr/bin/anteroom" | grep -q '\.symtab' && fail "usr/bin/anteroom is not stripped"
# The changelog's newest entry is this version (packaging/changelog: add one when it changes).
top=$(gzip -dc "$ROOT/usr/share/doc/anteroom/changelog.gz" | head -n 1)
[[ "$top" == "anteroom ($VERSION) "* ]] ||
  fail "packaging/changelog starts with '$top': add an entry for $VERSION"
# systemd is not PID 1 here: verify runs offline against the unpacked tree as the root, where
# the unit's ExecStart=/usr/bin/anteroom is the unpacked binary. --recursive-errors=no: the
# targets the unit names (multi-user.target, ...) are not in that tree; the unit itself is
# checked (unknown keys, bad values, ExecStart) and any complaint fails the test.
if ! systemd-analyze verify --root="$ROOT" --man=no --recursive-errors=no anteroom.service \
    >"$TMP/verify.log" 2>&1 || [ -s "$TMP/verify.log" ]; then
  cat "$TMP/verify.log" >&2
  fail "systemd-analyze verify refused lib/systemd/system/anteroom.service"
fi
step "systemd-analyze verify: accepted; $(systemd-analyze security --offline=yes --root="$ROOT" \
  anteroom.service 2>/dev/null | grep -o 'Overall exposure level.*' || echo 'security: n/a')"

# ---- the unpacked binary with the shipped config serves --------------------------------------
# As the unit runs it (ExecStart with --config), the secrets in the environment as the unit's
# EnvironmentFile gives them, and a free port (--listen on the command line, for the test only).
ADMIN="admin-$RANDOM$RANDOM"
mkfifo "$TMP/stdout"
ANTEROOM_ADMIN_TOKEN="$ADMIN" ANTEROOM_TOKEN_SECRET="secret-$RANDOM$RANDOM" \
  "$ROOT/usr/bin/anteroom" --config "$ROOT/etc/anteroom/anteroom.conf" --listen 127.0.0.1:0 \
  >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER=$!
exec 3<"$TMP/stdout"
if ! read -r -t 15 -u 3 first; then
  cat "$TMP/stderr" >&2
  fail "the unpacked binary did not say where it listens"
fi
[[ "$first" =~ ^anteroom\ listening\ on\ (http://[0-9.]+:[0-9]+)$ ]] || fail "first line: $first"
URL=${BASH_REMATCH[1]}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "$URL/healthz")" = 200 ] || fail "GET /healthz did not answer 200"
# The admin token from the environment took effect: the shipped file does not hide it.
[ "$(code -H "Authorization: Bearer $ADMIN" "$URL/v1/queues")" = 200 ] ||
  fail "GET /v1/queues with the admin token from the environment did not answer 200"
[ "$(code -H "Authorization: Bearer wrong" "$URL/v1/queues")" = 401 ] ||
  fail "GET /v1/queues with a wrong token did not answer 401"
kill -TERM "$SERVER"
wait "$SERVER"
rc=$?
SERVER=""
exec 3<&-
[ "$rc" = 0 ] || { cat "$TMP/stderr" >&2; fail "the binary exited $rc on SIGTERM"; }
step "unpacked binary + shipped config: /healthz 200, admin token from the environment, exit 0"

# ---- lintian ----------------------------------------------------------------------------------
lintian --tag-display-limit 0 "$DEB" >"$TMP/lintian.log" 2>&1
sed 's/^/package_deb: lintian: /' "$TMP/lintian.log"
grep -q '^E:' "$TMP/lintian.log" && fail "lintian reports errors"
step "lintian: no error ($(grep -c '^W:' "$TMP/lintian.log") warnings)"
echo "package_deb: PASS"
