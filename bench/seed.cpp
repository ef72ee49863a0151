// vmgw-bench-seed: writes the objects of a benchmark scenario into a vmgwd state database, in one
// store transaction, through the product's own StateStore (so the rows are exactly what the API
// would have written). bench/run uses it to give vmgwd 10 000 VMs before measuring single API
// operations: creating them one API call at a time costs N calls of a time that itself grows
// with N.
//
//   vmgw-bench-seed DB < OBJECTS
//
// OBJECTS, one object per line, fields separated by spaces (bench/gen.sh writes it):
//   filter NAME FILE                          a filter (nwfilter XML read from FILE)
//   vm NAME NETWORK MAC IP PORT F1,F2,...     a VM with its filter bindings (no parameters)
//   eip ADDRESS POOL VM                       an allocated elastic IP, bound to VM ("-": none)
//   forward ADDRESS PROTO PORT VM VM_PORT     a port forward
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "store/state_store.h"

namespace {

using namespace vmgw;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "vmgw-bench-seed: " << what << "\n";
  std::exit(1);
}

template <typename T>
T need(std::optional<T> v, const std::string& what, size_t line) {
  if (!v) die("line " + std::to_string(line) + ": bad " + what);
  return *v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) die("usage: vmgw-bench-seed DB < OBJECTS");
  auto store = store::open_sqlite_store(argv[1]);
  auto txn = store->begin();
  std::string text;
  size_t line = 0, objects = 0;
  while (std::getline(std::cin, text)) {
    ++line;
    std::istringstream in(text);
    std::string kind;
    if (!(in >> kind)) continue;
    if (kind == "filter") {
      std::string name, file;
      if (!(in >> name >> file)) die("line " + std::to_string(line) + ": filter NAME FILE");
      txn->put_filter({name, read_file(file)});
    } else if (kind == "vm") {
      std::string name, network, mac, ip, port, filters;
      if (!(in >> name >> network >> mac >> ip >> port >> filters))
        die("line " + std::to_string(line) + ": vm NAME NETWORK MAC IP PORT FILTERS");
      store::VmRecord vm{name,
                         network,
                         need(Mac::parse(mac), "MAC", line),
                         need(Ipv4::parse(ip), "IP", line),
                         port,
                         {},
                         {}};
      std::istringstream fs(filters);
      for (std::string f; std::getline(fs, f, ',');)
        if (!f.empty() && f != "-") vm.filters.push_back({f, {}});
      txn->add_vm(vm);
    } else if (kind == "eip") {
      std::string address, pool, vm;
      if (!(in >> address >> pool >> vm))
        die("line " + std::to_string(line) + ": eip ADDRESS POOL VM");
      txn->add_eip({need(Ipv4::parse(address), "address", line), pool, vm == "-" ? "" : vm});
    } else if (kind == "forward") {
      std::string address, proto, port, vm, vm_port;
      if (!(in >> address >> proto >> port >> vm >> vm_port))
        die("line " + std::to_string(line) + ": forward ADDRESS PROTO PORT VM VM_PORT");
      txn->add_forward({need(Ipv4::parse(address), "address", line),
                        need(parse_proto(proto), "proto", line),
                        need(PortRange::parse(port), "port", line), vm,
                        need(PortRange::parse(vm_port), "VM port", line)});
    } else {
      die("line " + std::to_string(line) + ": unknown kind '" + kind + "'");
    }
    ++objects;
  }
  txn->set_generation(1);
  txn->commit();
  std::printf("seeded %zu objects into %s\n", objects, argv[1]);
  return 0;
}
