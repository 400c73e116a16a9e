// Package packaging holds the OpenWrt packaging of mrouter and ha: the
// .ipk builder (cmd/mkipk, on top of package ipk) and the tests that check
// the packages, the shell scripts of ../openwrt/files and the UCI to TOML
// translation of the init scripts. README.md, "Installing on OpenWrt", is
// the user's side.
package packaging
