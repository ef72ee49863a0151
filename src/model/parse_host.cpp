// YAML -> the host's own policy: what may reach it, which ICMP it lets in, and what it may send.
// Structure and syntax only, as parse.cpp; validate_nat.cpp checks what needs the whole file.
#include "model/parse_host.h"

#include "model/conntrack_helpers.h"
#include "model/icmp.h"

namespace vmgw::detail {
namespace {

std::optional<uint8_t> icmp_value(YamlReader& r, const YAML::Node& v, const std::string& p,
                                  bool code) {
  auto s = r.scalar(v, p, code ? "an ICMP code" : "an ICMP type");
  if (!s) return std::nullopt;
  auto value = code ? icmp_code_value(*s) : icmp_type_value(*s);
  if (!value) {
    r.error(r.loc(v), p,
            quote(*s) + " is not an ICMP " + (code ? "code" : "type") +
                " (expected a number from 0 to 255 or one of " +
                (code ? icmp_code_names() : icmp_type_names()) + ")");
  }
  return value;
}

IcmpMatch icmp_entry(YamlReader& r, const YAML::Node& n, const std::string& path) {
  IcmpMatch m;
  m.origin.path = path;
  m.origin.fields[""] = r.loc(n);
  if (!n.IsMap()) {
    m.type = icmp_value(r, n, path, false);
    if (n.IsScalar()) m.text = n.Scalar();
    return m;
  }
  std::string type_text, code_text;
  r.fields(n, path, {"type", "code"}, m.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "type") {
               m.type = icmp_value(r, v, p, false);
               if (v.IsScalar()) type_text = v.Scalar();
             }
             if (key == "code") {
               m.code = icmp_value(r, v, p, true);
               if (v.IsScalar()) code_text = v.Scalar();
             }
           });
  if (!m.origin.fields.count("type")) r.error(r.loc(n), path + ".type", "missing required field");
  m.text = type_text + (code_text.empty() ? "" : "/" + code_text);
  return m;
}

}  // namespace

void parse_host_service(YamlReader& r, const YAML::Node& n, const std::string& path,
                        HostService& s) {
  r.fields(n, path, {"proto", "port", "interface", "from", "to"}, s.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "proto") {
               if (auto pr = r.proto(v, p)) s.proto = *pr;
             }
             if (key == "port") s.ports = r.ports(v, p);
             if (key == "interface") r.string(v, p, s.interface);
             if (key == "from") s.from = r.cidr(v, p);
             if (key == "to") s.to = r.cidr(v, p);
           });
}

std::vector<IcmpMatch> parse_icmp_list(YamlReader& r, const YAML::Node& n,
                                       const std::string& path) {
  std::vector<IcmpMatch> out;
  r.items(n, path, [&](const YAML::Node& item, const std::string& p, size_t) {
    out.push_back(icmp_entry(r, item, p));
  });
  return out;
}

std::vector<std::string> parse_helpers(YamlReader& r, const YAML::Node& n,
                                       const std::string& path) {
  std::vector<std::string> out;
  r.items(n, path, [&](const YAML::Node& item, const std::string& p, size_t) {
    auto s = r.scalar(item, p, "a helper name");
    if (!s) return;
    if (!find_conntrack_helper(*s)) {
      r.error(r.loc(item), p,
              quote(*s) + " is not a connection-tracking helper (expected " +
                  conntrack_helper_names() + ")");
    } else if (std::find(out.begin(), out.end(), *s) != out.end()) {
      r.error(r.loc(item), p, quote(*s) + " is listed twice");
    } else {
      out.push_back(*s);
    }
  });
  return out;
}

void parse_host_output(YamlReader& r, const YAML::Node& n, const std::string& path,
                       HostOutput& out) {
  if (n.IsNull()) return;
  r.fields(n, path, {"policy", "allow", "icmp"}, out.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "policy") {
               auto s = r.scalar(v, p, "accept or drop");
               if (s && *s == "drop") {
                 out.drop = true;
               } else if (s && *s != "accept") {
                 r.error(r.loc(v), p, quote(*s) + " is not a policy (expected accept or drop)");
               }
             }
             if (key == "allow") {
               r.items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t) {
                 HostService s;
                 parse_host_service(r, item, ip, s);
                 out.allow.push_back(std::move(s));
               });
             }
             if (key == "icmp") {
               out.icmp = parse_icmp_list(r, v, p);
               out.icmp_given = true;
             }
           });
}

}  // namespace vmgw::detail
