#!/bin/sh
# tools/embed.sh SYMBOL FILE
#
# Prints C source that holds FILE's bytes, so that a file the program needs
# at run time (a compiled message catalogue, a page's asset) is part of the
# one binary to deploy:
#
#	const unsigned char SYMBOL[];	the bytes
#	const size_t SYMBOL_len;	their number
#
# Uses od(1) only, so it runs wherever the build does.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: tools/embed.sh SYMBOL FILE" >&2
	exit 2
fi
sym=$1
file=$2
case $sym in
''|[0-9]*|*[!A-Za-z0-9_]*)
	echo "embed.sh: '$sym' is not a C identifier" >&2
	exit 2 ;;
esac
if [ ! -r "$file" ] || [ ! -s "$file" ]; then
	echo "embed.sh: cannot read $file, or it is empty" >&2
	exit 1
fi
printf '/* Made by tools/embed.sh from %s: do not edit. */\n' "$file"
printf '#include <stddef.h>\n\n'
printf 'extern const unsigned char %s[];\n' "$sym"
printf 'extern const size_t %s_len;\n\n' "$sym"
printf 'const unsigned char %s[] = {\n' "$sym"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' \
    -e 's/^/\t/'
printf '};\n\nconst size_t %s_len = sizeof(%s);\n' "$sym" "$sym"
