#!/usr/bin/env bash
# Checks the tree against .clang-format and .clang-tidy. Needs what tools/deps.sh installs.
#
#   tools/lint.sh           both checks (clang-tidy over every translation unit: minutes)
#   tools/lint.sh format    only clang-format (seconds)
#   tools/lint.sh --fix     rewrite the files clang-format would change, then check
#
# clang-tidy reads the compile database of a clang build in build/tidy, so it sees every
# source with the flags it is built with; headers are checked through the sources that
# include them (HeaderFilterRegex in .clang-tidy).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case ${1:-} in
  format) mode=format ;;
  --fix) mode=fix ;;
  "") ;;
  *) echo "lint: unknown argument $1" >&2; exit 2 ;;
esac

# Sources that must not compile are still formatted; generated and third-party files are
# not in git.
mapfile -t files < <(git ls-files '*.hpp' '*.cpp' '*.h' '*.inc')
if [ "$mode" = fix ]; then
  clang-format -i "${files[@]}"
fi
clang-format --dry-run --Werror "${files[@]}"
echo "lint: clang-format clean (${#files[@]} files)"
[ "$mode" = all ] || exit 0

cmake -S . -B build/tidy -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
# Generated sources (none today) and the checks' own inputs must exist before tidy runs.
cmake --build build/tidy --target help >/dev/null
# Every translation unit of this project (not the consumer projects, which are built by
# ctest from their own trees).
run-clang-tidy -quiet -p build/tidy -j "$(nproc)" "^$(pwd)/(backends|bench|examples|tests)/" \
  >build/tidy/clang-tidy.log 2>&1 || {
  grep -E 'warning:|error:' build/tidy/clang-tidy.log | sort -u | head -n 60
  echo "lint: clang-tidy found problems (build/tidy/clang-tidy.log)"
  exit 1
}
echo "lint: clang-tidy clean"
