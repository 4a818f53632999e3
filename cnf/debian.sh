# Debian package helpers shared by ./kizuna, ./run-tests and itests/bench/harness.
# Source it after defining say(); it defines functions only.

# Prints the packages of the arguments that are not installed.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# Installs the Debian packages that are missing; apt-get update runs once, and only when needed.
ensure_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "please install these packages: ${missing[*]}"
    return 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}"
    return 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
