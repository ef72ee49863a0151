#include "nft/text.h"

#include <cstdio>
#include <sstream>

namespace vmgw::nft {
namespace {

std::string quote(const std::string& s) {
  return "\"" + s + "\"";
}

// Marks are bit fields: shown in hex, as nft does.
bool is_mark(const Json& e) {
  if (e.contains("ct") || e.contains("meta")) {
    const auto& key = e.contains("ct") ? e["ct"]["key"] : e["meta"]["key"];
    return key == "mark";
  }
  for (const char* op : {"&", "|"})
    if (e.contains(op)) return is_mark(e[op][0]);
  return false;
}

std::string hex(const Json& v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v.get<uint32_t>());
  return buf;
}

bool is_ifname_key(const Json& left) {
  if (!left.contains("meta")) return false;
  const auto& key = left["meta"]["key"];
  return key == "iifname" || key == "oifname" || key == "iif" || key == "oif";
}

// Values are rendered as nft prints them; strings on ifname keys and in ifname-typed data are
// quoted by the caller through `quote_strings`.
std::string value_text(const Json& v, bool quote_strings);

std::string list_text(const Json& items, bool quote_strings, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += value_text(items[i], quote_strings);
  }
  return out;
}

std::string value_text(const Json& v, bool quote_strings) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return quote_strings && !s.empty() && s[0] != '@' ? quote(s) : s;
  }
  if (v.is_number()) return v.dump();
  if (v.is_array()) return list_text(v, quote_strings, ", ");
  if (v.contains("set")) return "{ " + list_text(v["set"], quote_strings, ", ") + " }";
  if (v.contains("range"))
    return value_text(v["range"][0], quote_strings) + "-" +
           value_text(v["range"][1], quote_strings);
  if (v.contains("prefix"))
    return v["prefix"]["addr"].get<std::string>() + "/" + v["prefix"]["len"].dump();
  if (v.contains("concat")) return list_text(v["concat"], quote_strings, " . ");
  return expr_text(v);
}

std::string nat_target(const Json& n) {
  std::string out;
  const auto& addr = n["addr"];
  if (addr.contains("map"))
    out = expr_text(addr["map"]["key"]) + " map " + addr["map"]["data"].get<std::string>();
  else
    out = value_text(addr, false);
  if (n.contains("port")) {
    const auto& port = n["port"];
    out += ":";
    if (port.contains("map"))
      out += expr_text(port["map"]["key"]) + " map " + port["map"]["data"].get<std::string>();
    else
      out += value_text(port, false);
  }
  return out;
}

}  // namespace

std::string expr_text(const Json& e) {
  if (e.contains("payload")) {
    const auto& p = e["payload"];
    if (p.contains("base"))  // a raw field: @base,offset,length (bits)
      return "@" + p["base"].get<std::string>() + "," + p["offset"].dump() + "," + p["len"].dump();
    return p["protocol"].get<std::string>() + " " + p["field"].get<std::string>();
  }
  for (const char* op : {"&", "|"}) {
    if (!e.contains(op)) continue;
    const auto& args = e[op];
    std::string right =
        is_mark(args[0]) && args[1].is_number() ? hex(args[1]) : value_text(args[1], false);
    return expr_text(args[0]) + " " + op + " " + right;
  }
  if (e.contains("fib")) {  // fib daddr type
    const auto& f = e["fib"];
    return "fib " + list_text(f["flags"], false, " . ") + " " + f["result"].get<std::string>();
  }
  if (e.contains("mangle")) {
    const auto& m = e["mangle"];
    const auto& v = m["value"];
    std::string value = is_mark(m["key"]) && v.is_number() ? hex(v) : value_text(v, false);
    return expr_text(m["key"]) + " set " + value;
  }
  if (e.contains("set") && e["set"].is_object() && e["set"].contains("op")) {
    // add @vm_flows { ip saddr ct count over 20000 }
    const auto& st = e["set"];
    std::string out = st["op"].get<std::string>() + " " + st["set"].get<std::string>() + " { " +
                      expr_text(st["elem"]);
    for (const auto& x : st.value("stmt", Json::array())) out += " " + expr_text(x);
    return out + " }";
  }
  if (e.contains("elem") && e["elem"].is_object() && e["elem"].contains("val")) {
    // A dynamic set's key with its own timeout: ip saddr timeout 60s
    std::string out = expr_text(e["elem"]["val"]);
    if (e["elem"].contains("timeout")) out += " timeout " + e["elem"]["timeout"].dump() + "s";
    return out;
  }
  if (e.contains("limit")) {
    const auto& l = e["limit"];
    std::string out = std::string("limit rate ") + (l.value("inv", false) ? "over " : "") +
                      l["rate"].dump() + "/" + l.value("per", "second");
    if (l.contains("burst")) out += " burst " + l["burst"].dump() + " packets";
    return out;
  }
  if (e.contains("ct count")) {
    const auto& c = e["ct count"];
    return std::string("ct count ") + (c.value("inv", false) ? "over " : "") + c["val"].dump();
  }
  if (e.contains("reject")) {
    const auto& r = e["reject"];
    if (!r.is_object() || !r.contains("type")) return "reject";
    std::string type = r["type"].get<std::string>();
    if (type == "tcp reset") return "reject with tcp reset";
    return "reject with " + type + " " + r.value("expr", "port-unreachable");
  }
  if (e.contains("meta")) {
    const auto key = e["meta"]["key"].get<std::string>();
    // nft prints these meta keys without the "meta" keyword.
    if (key == "iifname" || key == "oifname" || key == "iif" || key == "oif") return key;
    return "meta " + key;
  }
  if (e.contains("ct")) return "ct " + e["ct"]["key"].get<std::string>();
  if (e.contains("concat")) {
    std::string out;
    for (size_t i = 0; i < e["concat"].size(); ++i) {
      if (i) out += " . ";
      out += expr_text(e["concat"][i]);
    }
    return out;
  }
  if (e.contains("match")) {
    const auto& m = e["match"];
    const auto op = m["op"].get<std::string>();
    bool q = is_ifname_key(m["left"]);
    std::string right;
    if (m["right"].is_array())
      right = list_text(m["right"], q, ",");  // ct state established,related
    else if (is_mark(m["left"]) && m["right"].is_number())
      right = hex(m["right"]);
    else
      right = value_text(m["right"], q);
    // After a bitwise expression the operator must be spelt out (nft would read on otherwise).
    bool bitwise = m["left"].contains("&") || m["left"].contains("|");
    std::string sep = (op == "==" || op == "in") && !bitwise ? " " : " " + op + " ";
    return expr_text(m["left"]) + sep + right;
  }
  if (e.contains("counter")) return "counter";
  if (e.contains("ct helper")) return "ct helper set " + quote(e["ct helper"].get<std::string>());
  if (e.contains("accept")) return "accept";
  if (e.contains("drop")) return "drop";
  if (e.contains("return")) return "return";
  if (e.contains("jump")) return "jump " + e["jump"]["target"].get<std::string>();
  if (e.contains("goto")) return "goto " + e["goto"]["target"].get<std::string>();
  if (e.contains("vmap")) {
    return expr_text(e["vmap"]["key"]) + " vmap " + e["vmap"]["data"].get<std::string>();
  }
  if (e.contains("dnat")) return "dnat ip to " + nat_target(e["dnat"]);
  if (e.contains("snat")) return "snat ip to " + nat_target(e["snat"]);
  if (e.contains("masquerade")) return "masquerade";
  if (e.contains("log")) {
    std::string out = "log";
    if (e["log"].contains("prefix"))
      out += " prefix " + quote(e["log"]["prefix"].get<std::string>());
    if (e["log"].contains("group")) out += " group " + e["log"]["group"].dump();
    return out;
  }
  return e.dump();  // never reached for vmgw's vocabulary; keeps unknown shapes visible
}

std::string rule_text(const Rule& r) {
  std::string out;
  for (const auto& e : r.expr) {
    if (!out.empty()) out += " ";
    out += expr_text(e);
  }
  if (!r.comment.empty()) out += " comment " + quote(r.comment);
  return out;
}

namespace {

// Renders `v` whose nft type is `type` ("ifname" or ["ipv4_addr", "ifname"]): ifname strings are
// quoted the way nft prints them.
std::string typed_text(const Json& v, const Json& type) {
  if (type.is_array() && v.contains("concat")) {
    std::string out;
    for (size_t i = 0; i < v["concat"].size(); ++i) {
      if (i) out += " . ";
      out += typed_text(v["concat"][i], i < type.size() ? type[i] : Json());
    }
    return out;
  }
  if (type == "mark" && v.is_number()) return hex(v);
  if (type == "inet_proto" && v.is_number()) {
    // Shown by name, as nft does on a host with /etc/protocols.
    if (v == 6) return "tcp";
    if (v == 17) return "udp";
  }
  return value_text(v, type == "ifname");
}

}  // namespace

std::string element_text(const Set& s, const Element& e) {
  std::string out = typed_text(e.key, s.type);
  if (!e.value.is_null()) out += " : " + typed_text(e.value, s.map);
  return out;
}

std::string table_text(const Table& t) {
  std::ostringstream os;
  os << "table " << t.family << " " << t.name << " {\n";
  bool first = true;
  for (const auto& h : t.helpers) {
    if (!first) os << "\n";
    first = false;
    os << "\tct helper " << h.name << " {\n\t\ttype " << quote(h.type) << " protocol " << h.protocol
       << "\n\t\tl3proto " << h.l3proto << "\n\t}\n";
  }
  for (const auto& s : t.sets) {
    if (!first) os << "\n";
    first = false;
    if (!s.comment.empty()) os << "\t# " << s.comment << "\n";
    os << "\t" << (s.is_map() ? "map " : "set ") << s.name << " {\n";
    std::string type =
        s.type.is_array() ? list_text(s.type, false, " . ") : s.type.get<std::string>();
    os << "\t\ttype " << type;
    if (s.is_map())
      os << " : " << (s.map.is_array() ? list_text(s.map, false, " . ") : s.map.get<std::string>());
    os << "\n";
    if (s.size != 0) os << "\t\tsize " << s.size << "\n";
    if (s.counter) os << "\t\tcounter\n";
    if (!s.flags.empty()) {
      os << "\t\tflags ";
      for (size_t i = 0; i < s.flags.size(); ++i) os << (i ? "," : "") << s.flags[i];
      os << "\n";
    }
    if (!s.elements.empty()) {
      os << "\t\telements = { ";
      for (size_t i = 0; i < s.elements.size(); ++i) {
        if (i) os << ",\n\t\t\t     ";
        os << element_text(s, s.elements[i]);
      }
      os << " }\n";
    }
    os << "\t}\n";
  }
  for (const auto& c : t.chains) {
    if (!first) os << "\n";
    first = false;
    os << "\tchain " << c.name << " {\n";
    if (c.hook) {
      os << "\t\ttype " << c.hook->type << " hook " << c.hook->hook << " priority "
         << c.hook->priority << "; policy " << c.hook->policy << ";\n";
    }
    for (const auto& r : c.rules) os << "\t\t" << rule_text(r) << "\n";
    os << "\t}\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace vmgw::nft
