// YAML -> the host's own policy: what may reach it, which ICMP it lets in, and what it may send.
// Structure and syntax only, as parse.cpp; validate_nat.cpp checks what needs the whole file.
#include "model/parse_host.h"

#include <charconv>
#include <functional>

#include "model/conntrack_helpers.h"
#include "model/icmp.h"
#include "model/services.h"

namespace vmgw::detail {
namespace {

// A single value, or a list of them: each through `one`.
void one_or_many(YamlReader& r, const YAML::Node& v, const std::string& p,
                 const std::function<void(const YAML::Node&, const std::string&)>& one) {
  if (v.IsSequence()) {
    if (v.size() == 0) r.error(r.loc(v), p, "expected at least one value, got an empty list");
    r.items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t) { one(item, ip); });
  } else {
    one(v, p);
  }
}

// "10/minute": a number of new connections per second, minute or hour.
std::optional<ConnectionRate> connection_rate(YamlReader& r, const YAML::Node& v,
                                              const std::string& p) {
  auto s = r.scalar(v, p, "a rate (e.g. 10/minute)");
  if (!s) return std::nullopt;
  auto slash = s->find('/');
  uint32_t count = 0;
  std::string unit = slash == std::string::npos ? "" : s->substr(slash + 1);
  auto [end, ec] =
      std::from_chars(s->data(), s->data() + (slash == std::string::npos ? 0 : slash), count);
  bool number = slash != std::string::npos && slash > 0 && ec == std::errc() &&
                end == s->data() + slash && count >= 1 && count <= 1000000;
  if (!number || (unit != "second" && unit != "minute" && unit != "hour")) {
    r.error(r.loc(v), p,
            quote(*s) +
                " is not a rate (expected N/second, N/minute or N/hour, N from 1 to "
                "1000000)");
    return std::nullopt;
  }
  return ConnectionRate{count, unit};
}

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
  struct PortText {
    std::string text;
    Location where;
    std::string path;
  };
  std::vector<PortText> ports;
  r.fields(n, path, {"proto", "port", "interface", "from", "to", "limit", "per_source"}, s.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "proto") {
               if (auto pr = r.proto(v, p)) s.proto = *pr;
             }
             if (key == "port") {
               one_or_many(r, v, p, [&](const YAML::Node& item, const std::string& ip) {
                 if (auto t = r.scalar(item, ip, "a port, a range or a service name"))
                   ports.push_back({*t, r.loc(item), ip});
               });
             }
             if (key == "interface") {
               one_or_many(r, v, p, [&](const YAML::Node& item, const std::string& ip) {
                 std::string name;
                 r.string(item, ip, name);
                 if (!name.empty()) s.interfaces.push_back(name);
               });
             }
             for (auto [field, out] : {std::pair{"from", &s.from}, std::pair{"to", &s.to}}) {
               if (key != field) continue;
               one_or_many(r, v, p, [&, out = out](const YAML::Node& item, const std::string& ip) {
                 if (auto c = r.cidr(item, ip)) out->push_back(*c);
               });
             }
             if (key == "limit") s.limit = connection_rate(r, v, p);
             if (key == "per_source") s.per_source = connection_rate(r, v, p);
           });
  // Names after the whole entry: `proto` may come after `port`.
  for (const auto& pt : ports) {
    if (auto range = port_or_service(r, pt.text, pt.where, pt.path, s.proto)) {
      s.ports.push_back(*range);
      s.port_text.push_back(pt.text);
    }
  }
}

std::optional<PortRange> port_or_service(YamlReader& r, const std::string& text,
                                         const Location& where, const std::string& path,
                                         Proto proto) {
  if (!text.empty() && text[0] >= '0' && text[0] <= '9') return r.ports_text(text, where, path);
  if (auto port = service_port(text, proto)) return PortRange{*port, *port};
  if (auto other = service_elsewhere(text, proto); !other.empty()) {
    r.error(where, path,
            quote(text) + " is " + other + ", not " + std::string(to_string(proto)) +
                ": give proto: " + other.substr(0, 3) + " (one entry per protocol)");
  } else {
    r.error(where, path,
            quote(text) + " is not a port, a range or a service name (expected 80, " +
                "8000-8010 or one of " + service_names() + ")");
  }
  return std::nullopt;
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
