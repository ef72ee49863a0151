// vmgw: declare the gateway, check it, see the plan, apply it, look at what is in force.
#include "cli/io.h"

int main(int argc, char** argv) {
  return vmgw::cli::run_cli(argc, argv, vmgw::cli::real_io());
}
