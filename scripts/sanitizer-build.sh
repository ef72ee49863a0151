# Sourced by scripts/test and scripts/fuzz: configures the sanitizer tree (clang, ASan + UBSan,
# coverage instrumentation for libFuzzer) in $VMGW_SANITIZER_BUILD_DIR (default build-asan) and
# sets sanitizer_dir. Each script then builds the targets it needs there.
sanitizer_dir=${VMGW_SANITIZER_BUILD_DIR:-build-asan}
# shellcheck source=scripts/ccache.sh
. scripts/ccache.sh
CC=clang CXX=clang++ cmake -S . -B "$sanitizer_dir" -DCMAKE_BUILD_TYPE=Debug -DVMGW_SANITIZE=ON \
  -DVMGW_FUZZ=ON -DVMGW_WERROR=ON "${ccache_args[@]}" >/dev/null
