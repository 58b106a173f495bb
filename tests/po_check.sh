#!/bin/sh
# tests/po_check.sh - the message catalogues are complete (docs/I18N.md).
#
# Extracts the msgids from the sources exactly as `make pot` does, then
# checks for every po/LANG.po that
#   - msgfmt --check accepts it (format strings match, plural forms);
#   - msgcmp finds every msgid of the sources in it with a translation
#     that is neither empty nor fuzzy;
#   - po/casesync.pot lists the same msgids as the sources (run `make pot`).
# A forgotten translation fails here, and so fails `make check` and CI.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
xgettext_cmd=$(make -s --no-print-directory -f Makefile -f - print-xgettext \
    <<'MK'
print-xgettext:
	@echo '$(XGETTEXT) $(I18N_SRC)'
MK
)
if ! eval "$xgettext_cmd --output=$tmp/src.pot" 2>"$tmp/xgettext.log"; then
	cat "$tmp/xgettext.log"
	bad "xgettext could not read the sources"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "xgettext: $(grep -c '^msgid ' "$tmp/src.pot") msgids in the sources"

# The committed template has the sources' msgids (line numbers aside).
msgids() {
	msgcat --no-location --no-wrap --sort-output "$1" 2>/dev/null |
	    grep -E '^msg(id|id_plural) ' | sort
}
if [ "$(msgids "$tmp/src.pot")" = "$(msgids po/casesync.pot)" ]; then
	ok "po/casesync.pot is up to date"
else
	bad "po/casesync.pot is out of date: run make pot"
fi

for po in po/compendium/*.po; do
	[ -e "$po" ] || continue
	if msgfmt --check --output-file=/dev/null "$po" 2>"$tmp/msgfmt.log"
	then
		ok "msgfmt --check $po (glossary)"
	else
		cat "$tmp/msgfmt.log"
		bad "msgfmt --check $po (glossary)"
	fi
done

for po in po/*.po; do
	[ -e "$po" ] || continue
	if msgfmt --check --output-file=/dev/null "$po" 2>"$tmp/msgfmt.log"
	then
		ok "msgfmt --check $po"
	else
		cat "$tmp/msgfmt.log"
		bad "msgfmt --check $po"
	fi
	# msgcmp counts untranslated and fuzzy entries of $po as missing.
	if msgcmp "$po" "$tmp/src.pot" 2>"$tmp/msgcmp.log"; then
		ok "$po translates every msgid in the sources"
	else
		sed 's/^/  /' "$tmp/msgcmp.log" | head -n 40
		bad "$po lacks translations (edit it, see docs/I18N.md)"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
