# Sourced by the build scripts: compile through ccache when it is installed (scripts/setup
# installs it), so CI's four builds of one tree (release, ASan, fuzzers, bench) from a clean
# checkout reuse what an earlier run on the machine compiled. Without it, builds are just slower.
ccache_args=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so that another clone or worktree of the same code hits.
  CCACHE_BASEDIR=$(pwd)
  export CCACHE_BASEDIR
  ccache_args=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
