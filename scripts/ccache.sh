# Sourced by the build scripts: compile through ccache when it is installed (scripts/setup
# installs it), so CI's four builds of one tree (release, ASan, fuzzers, bench) from a clean
# checkout reuse what an earlier run on the machine compiled. Without it, builds are just slower.
ccache_args=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so that another clone or worktree of the same code hits.
  CCACHE_BASEDIR=$(pwd)
  # And no build directory in the key: with -g (RelWithDebInfo, the sanitizer tree) ccache hashes
  # the directory it compiles in, so a clone elsewhere (CI's) would miss everything and build
  # both trees from scratch, about 25 of CI's minutes on two cores. The price: a cached object's
  # debug info names the build directory of the clone that compiled it first.
  CCACHE_NOHASHDIR=1
  export CCACHE_BASEDIR CCACHE_NOHASHDIR
  ccache_args=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
