// The YAML reading primitives of the config parser (parse.cpp, parse_uplinks.cpp): walking maps
// and lists with located errors, and strict parsers of single values. Internal to model/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "model/config.h"
#include "model/validate_internal.h"

namespace vmgw::detail {

using Keys = std::initializer_list<std::string_view>;

// "; did you mean 'mac'?" when a known key is at most two edits away, else "".
inline std::string suggestion(std::string_view word, Keys known) {
  return detail::did_you_mean(word, std::vector<std::string_view>(known));
}

inline std::string kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    default:
      return "nothing";
  }
}

// Collects every problem of one file; parsing never stops at the first one.
class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics& errors) : file_(std::move(file)), errors_(errors) {}

  Location loc(const YAML::Node& n) const {
    // yaml-cpp marks an empty value at the token after it; point at its key instead.
    if (n.IsNull() && null_at_.line > 0) return null_at_;
    auto m = n.Mark();
    if (m.line < 0) return Location{file_, 0, 0};
    return Location{file_, m.line + 1, m.column + 1};
  }

  void error(Location where, std::string path, std::string reason) {
    errors_.push_back(Diagnostic{std::move(where), std::move(path), std::move(reason)});
  }

  // Walks the entries of a map: checks that it is a map, rejects non-string, duplicate and
  // unknown keys, records the object's and each field's location in `origin` and calls
  // `on_field(key, value, path_of_field)` for every known key. Returns false if not a map.
  bool fields(const YAML::Node& map, const std::string& path, Keys known, Origin& origin,
              const std::function<void(const std::string&, const YAML::Node&, const std::string&)>&
                  on_field) {
    origin.path = path;
    origin.fields[""] = loc(map);
    if (!map.IsMap()) {
      error(loc(map), path, "expected a map, got " + kind_of(map));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;  // copies: it-> returns a temporary proxy
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        error(loc(key), path, "keys must be plain names, got " + kind_of(key));
        continue;
      }
      const std::string& name = key.Scalar();
      std::string field_path = path.empty() ? name : path + "." + name;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        error(loc(key), field_path, "unknown field " + quote(name) + suggestion(name, known));
        continue;
      }
      if (!seen.insert(name).second) {
        error(loc(key), field_path, "field " + quote(name) + " is given twice");
        continue;
      }
      Location saved = null_at_;
      null_at_ = loc(key);
      origin.fields[name] = loc(value);
      on_field(name, value, field_path);
      null_at_ = saved;
    }
    return true;
  }

  // Calls `on_item(item, path_of_item, index)` for each element of a list; null is an empty list.
  void items(const YAML::Node& seq, const std::string& path,
             const std::function<void(const YAML::Node&, const std::string&, size_t)>& on_item) {
    if (seq.IsNull()) return;
    if (!seq.IsSequence()) {
      error(loc(seq), path, "expected a list, got " + kind_of(seq));
      return;
    }
    size_t i = 0;
    for (auto it = seq.begin(); it != seq.end(); ++it, ++i) {
      on_item(*it, path + "[" + std::to_string(i) + "]", i);
    }
  }

  // The text of a single value; an error (and nullopt) for nothing, maps and lists.
  std::optional<std::string> scalar(const YAML::Node& n, const std::string& path,
                                    std::string_view what) {
    if (!n.IsScalar()) {
      error(loc(n), path, "expected " + std::string(what) + ", got " + kind_of(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  void string(const YAML::Node& n, const std::string& path, std::string& out) {
    auto s = scalar(n, path, "a single value");
    if (!s) return;
    if (s->empty()) {
      error(loc(n), path, "expected a single value, got an empty string");
      return;
    }
    out = *s;
  }

  void boolean(const YAML::Node& n, const std::string& path, bool& out) {
    auto s = scalar(n, path, "true or false");
    if (!s) return;
    if (*s == "true") {
      out = true;
    } else if (*s == "false") {
      out = false;
    } else {
      error(loc(n), path, quote(*s) + " is not a boolean (expected true or false)");
    }
  }

  std::optional<Ipv4> ipv4(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "an IPv4 address");
    if (!s) return std::nullopt;
    return ipv4_text(*s, loc(n), path);
  }

  // "A-B", two IPv4 addresses (whether A comes first is the validator's to say).
  std::optional<std::pair<Ipv4, Ipv4>> address_range(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "a range (A-B)");
    if (!s) return std::nullopt;
    auto dash = s->find('-');
    if (dash == std::string::npos) {
      error(loc(n), path, quote(*s) + " is not an address range (expected A-B)");
      return std::nullopt;
    }
    auto first = ipv4_text(s->substr(0, dash), loc(n), path);
    auto last = ipv4_text(s->substr(dash + 1), loc(n), path);
    if (!first || !last) return std::nullopt;
    return std::make_pair(*first, *last);
  }

  std::optional<Ipv4> ipv4_text(const std::string& s, const Location& where,
                                const std::string& path) {
    auto a = Ipv4::parse(s);
    if (!a) error(where, path, quote(s) + " is not an IPv4 address");
    return a;
  }

  std::optional<Cidr> cidr(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "a prefix (a.b.c.d/n)");
    if (!s) return std::nullopt;
    if (auto c = Cidr::parse(*s)) return c;
    if (auto ia = InterfaceAddress::parse(*s)) {
      Cidr network{Ipv4{ia->address.value & Cidr{{}, ia->prefix}.mask()}, ia->prefix};
      error(loc(n), path, quote(*s) + " has host bits set; did you mean " + network.str() + "?");
    } else {
      error(loc(n), path, quote(*s) + " is not a prefix (expected a.b.c.d/n)");
    }
    return std::nullopt;
  }

  std::optional<InterfaceAddress> interface_address(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "an address with prefix length (a.b.c.d/n)");
    if (!s) return std::nullopt;
    if (auto a = InterfaceAddress::parse(*s)) return a;
    if (Ipv4::parse(*s)) {
      error(loc(n), path,
            quote(*s) + " has no prefix length (expected a.b.c.d/n, e.g. " + *s + "/24)");
    } else {
      error(loc(n), path, quote(*s) + " is not an address with prefix length (expected a.b.c.d/n)");
    }
    return std::nullopt;
  }

  std::optional<Mac> mac(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "a MAC address");
    if (!s) return std::nullopt;
    auto m = Mac::parse(*s);
    if (!m) error(loc(n), path, quote(*s) + " is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
    return m;
  }

  std::optional<Proto> proto(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "tcp or udp");
    if (!s) return std::nullopt;
    auto p = parse_proto(*s);
    if (!p) error(loc(n), path, quote(*s) + " is not a protocol (expected tcp or udp)");
    return p;
  }

  std::optional<PortRange> ports_text(const std::string& s, const Location& where,
                                      const std::string& path) {
    auto p = PortRange::parse(s);
    if (!p)
      error(where, path, quote(s) + " is not a port or port range (expected 80 or 8000-8010)");
    return p;
  }

  std::optional<PortRange> ports(const YAML::Node& n, const std::string& path) {
    auto s = scalar(n, path, "a port or port range");
    if (!s) return std::nullopt;
    return ports_text(*s, loc(n), path);
  }

  // A whole number from `min` to `max`; `what` names it in the error ("a weight"), `min_note`
  // says what the least value means ("no limit": "from 0 (no limit) to ...").
  std::optional<uint32_t> number(const YAML::Node& v, const std::string& p, std::string_view what,
                                 uint32_t min, uint32_t max, std::string_view min_note = "") {
    auto s = scalar(v, p, what);
    if (!s) return std::nullopt;
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec != std::errc() || end != s->data() + s->size() || n < min || n > max) {
      std::string from = std::to_string(min);
      if (!min_note.empty()) from += " (" + std::string(min_note) + ")";
      error(loc(v), p,
            "expected " + std::string(what) + " from " + from + " to " + std::to_string(max) +
                ", got " + quote(*s));
      return std::nullopt;
    }
    return n;
  }

  // One of `choices`; its index, or nullopt (and an error: "'x' is not a `what` (expected a or
  // b)").
  std::optional<size_t> choice(const YAML::Node& v, const std::string& p, std::string_view what,
                               const std::vector<std::string_view>& choices) {
    std::string expected;
    for (size_t i = 0; i < choices.size(); ++i)
      expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choices[i]);
    auto s = scalar(v, p, expected);
    if (!s) return std::nullopt;
    for (size_t i = 0; i < choices.size(); ++i)
      if (*s == choices[i]) return i;
    error(loc(v), p, quote(*s) + " is not " + std::string(what) + " (expected " + expected + ")");
    return std::nullopt;
  }

  // Calls `parse_one(item, path_of_item, obj)` for each element of a list into `out`.
  template <typename T, typename F>
  void list_with(const YAML::Node& v, const std::string& path, std::vector<T>& out, F parse_one) {
    items(v, path, [&](const YAML::Node& item, const std::string& p, size_t) {
      T obj;
      parse_one(item, p, obj);
      out.push_back(std::move(obj));
    });
  }

 protected:
  std::string file_;
  Diagnostics& errors_;
  Location null_at_;  // where an empty value is reported: the key it belongs to
};

}  // namespace vmgw::detail
