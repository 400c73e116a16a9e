# shellcheck shell=dash
# A stand-in for OpenWrt's /lib/functions.sh, for the tests: the UCI part
# (config_load, config_get, config_get_bool, config_set, config_foreach,
# config_list_foreach) with the same variables and semantics as the real
# library (package/base-files/files/lib/functions.sh), and config_load
# reading a UCI file itself, with uci's quoting rules, instead of running
# `uci export`. UCI_CONFIG_DIR selects the directory (default /etc/config).
#
# Anonymous sections are named cfgNNNNNN by position, as `uci -n export`
# (which uci_load uses) names them cfgXXXXXX.

CONFIG_SECTIONS=
CONFIG_NUM_SECTIONS=0
CONFIG_SECTION=
LIST_SEP=" "

append() {
	local var="$1" value="$2" sep="${3:- }"
	eval "export -- \"$var=\${$var:+\${$var}\${value:+\$sep}}\$value\""
}

config_set() {
	export "CONFIG_${1}_${2}=${3}"
}

config() {
	local cfgtype="$1" name="$2"
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	[ -n "$name" ] || name=$(printf 'cfg%06x' "$CONFIG_NUM_SECTIONS")
	append CONFIG_SECTIONS "$name"
	CONFIG_SECTION="$name"
	config_set "$CONFIG_SECTION" TYPE "$cfgtype"
}

option() {
	local varname="$1"
	shift
	config_set "$CONFIG_SECTION" "$varname" "$*"
}

list() {
	local varname="$1" len
	shift
	config_get len "$CONFIG_SECTION" "${varname}_LENGTH" 0
	len=$((len + 1))
	config_set "$CONFIG_SECTION" "${varname}_ITEM$len" "$*"
	config_set "$CONFIG_SECTION" "${varname}_LENGTH" "$len"
	append "CONFIG_${CONFIG_SECTION}_${varname}" "$*" "$LIST_SEP"
}

config_unset_all() {
	local s
	for s in $CONFIG_SECTIONS; do
		for v in $(set | sed -n "s/^\(CONFIG_${s}_[A-Za-z0-9_]*\)=.*/\1/p"); do
			unset "$v"
		done
	done
	CONFIG_SECTIONS=
	CONFIG_NUM_SECTIONS=0
	CONFIG_SECTION=
}

# _uci_to_sh FILE: the UCI file as calls of config/option/list, each word
# single-quoted for the shell.
_uci_to_sh() {
	awk '
	function q(s) { gsub(/\047/, "\047\\\047\047", s); return "\047" s "\047" }
	function fail(msg) { printf "uci: %s:%d: %s\n", FILENAME, NR, msg > "/dev/stderr"; bad = 1; exit 1 }
	{
		line = $0; n = 0; i = 1; L = length(line)
		while (i <= L) {
			c = substr(line, i, 1)
			if (c == " " || c == "\t") { i++; continue }
			if (c == "#") break
			w = ""
			while (i <= L) {
				c = substr(line, i, 1)
				if (c == " " || c == "\t") break
				if (c == "\047") {
					j = index(substr(line, i + 1), "\047")
					if (j == 0) fail("unterminated quote")
					w = w substr(line, i + 1, j - 1); i += j + 1
				} else if (c == "\"") {
					i++
					while (i <= L && substr(line, i, 1) != "\"") {
						if (substr(line, i, 1) == "\\" && i < L) i++
						w = w substr(line, i, 1); i++
					}
					if (i > L) fail("unterminated quote")
					i++
				} else if (c == "\\" && i < L) {
					w = w substr(line, i + 1, 1); i += 2
				} else {
					w = w c; i++
				}
			}
			tok[++n] = w
		}
		if (n == 0) next
		if (tok[1] == "package") next
		if (tok[1] == "config") {
			if (n < 2 || n > 3) fail("config TYPE [NAME]")
			if (n == 3 && tok[3] !~ /^[A-Za-z0-9_]+$/) fail("invalid section name " tok[3])
			print "config " q(tok[2]) (n == 3 ? " " q(tok[3]) : "")
		} else if (tok[1] == "option" || tok[1] == "list") {
			if (n != 3) fail(tok[1] " NAME VALUE")
			if (tok[2] !~ /^[A-Za-z0-9_]+$/) fail("invalid option name " tok[2])
			print tok[1] " " q(tok[2]) " " q(tok[3])
		} else fail("unknown keyword " tok[1])
	}' "$1"
}

config_load() {
	local file="${UCI_CONFIG_DIR:-/etc/config}/$1" script
	config_unset_all
	[ -r "$file" ] || return 1
	script=$(_uci_to_sh "$file") || return 1
	eval "$script"
}

config_get() {
	case "$2${3:-$1}" in
	*[!A-Za-z0-9_]*) : ;;
	*)
		case "$3" in
		"") eval echo "\"\${CONFIG_${1}_${2}:-\${4}}\"" ;;
		*) eval export -- "${1}=\${CONFIG_${2}_${3}:-\${4}}" ;;
		esac
		;;
	esac
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
	1 | on | true | yes | enabled) _tmp=1 ;;
	0 | off | false | no | disabled) _tmp=0 ;;
	*) _tmp="$4" ;;
	esac
	export "$1=$_tmp"
}

config_foreach() {
	local ___function="$1"
	[ "$#" -ge 1 ] && shift
	local ___type="$1"
	[ "$#" -ge 1 ] && shift
	local section cfgtype
	[ -z "$CONFIG_SECTIONS" ] && return 0
	for section in ${CONFIG_SECTIONS}; do
		config_get cfgtype "$section" TYPE
		[ -n "$___type" ] && [ "x$cfgtype" != "x$___type" ] && continue
		eval "$___function \"\$section\" \"\$@\""
	done
}

config_list_foreach() {
	[ "$#" -ge 3 ] || return 0
	local section="$1"
	shift
	local option="$1"
	shift
	local function="$1"
	shift
	local val len ITEM
	config_get len "${section}" "${option}_LENGTH"
	[ -z "$len" ] && return 0
	ITEM=1
	while [ "$ITEM" -le "$len" ]; do
		config_get val "${section}" "${option}_ITEM$ITEM"
		eval "$function \"\$val\" \"\$@\""
		ITEM=$((ITEM + 1))
	done
}
