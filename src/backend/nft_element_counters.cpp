#include "backend/nft_element_counters.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>

#include "model/net.h"

namespace vmgw::backend {
namespace {

constexpr size_t kIfNameBytes = 16;  // IFNAMSIZ: the kernel compares whole names

bool put_u16_be(const nft::Json& v, std::vector<uint8_t>& out) {
  if (!v.is_number_unsigned() && !v.is_number_integer()) return false;
  const int64_t n = v.get<int64_t>();
  if (n < 0 || n > 65535) return false;
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n & 0xff));
  return true;
}

bool put_ipv4(const nft::Json& v, std::vector<uint8_t>& out) {
  auto a = v.is_string() ? Ipv4::parse(v.get<std::string>()) : std::nullopt;
  if (!a) return false;
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(a->value >> shift));
  return true;
}

// vmgw's model has no IPv6 address type yet: the C library parses it.
bool put_ipv6(const nft::Json& v, std::vector<uint8_t>& out) {
  if (!v.is_string()) return false;
  uint8_t buf[16];
  if (inet_pton(AF_INET6, v.get<std::string>().c_str(), buf) != 1) return false;
  out.insert(out.end(), buf, buf + 16);
  return true;
}

bool put_mac(const nft::Json& v, std::vector<uint8_t>& out) {
  auto m = v.is_string() ? Mac::parse(v.get<std::string>()) : std::nullopt;
  if (!m) return false;
  out.insert(out.end(), m->bytes.begin(), m->bytes.end());
  return true;
}

// One field, unpadded.
bool put_field(const std::string& type, const nft::Json& v, std::vector<uint8_t>& out) {
  if (type == "ipv4_addr") return put_ipv4(v, out);
  if (type == "ipv6_addr") return put_ipv6(v, out);
  if (type == "ether_addr") return put_mac(v, out);
  if (type == "inet_service") return put_u16_be(v, out);
  if (type == "inet_proto") {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 255) return false;
    out.push_back(static_cast<uint8_t>(v.get<int64_t>()));
    return true;
  }
  if (type == "ifname") {
    if (!v.is_string() || v.get<std::string>().size() >= kIfNameBytes) return false;
    const std::string s = v.get<std::string>();
    out.insert(out.end(), s.begin(), s.end());
    out.resize(out.size() + kIfNameBytes - s.size(), 0);
    return true;
  }
  if (type == "mark") {  // host order, as meta mark loads it
    if (!v.is_number_unsigned() && !v.is_number_integer()) return false;
    const int64_t n = v.get<int64_t>();
    if (n < 0 || n > 0xffffffffLL) return false;
    uint32_t m = static_cast<uint32_t>(n);
    const auto* p = reinterpret_cast<const uint8_t*>(&m);
    out.insert(out.end(), p, p + 4);
    return true;
  }
  return false;
}

// A counter expression's counts, added to `e`.
void add_counter(const nlattr* expr, DumpedElement& e) {
  bool counter = false;
  const nlattr* data = nullptr;
  each_nested(expr, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NFTA_EXPR_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
      counter = std::strcmp(mnl_attr_get_str(a), "counter") == 0;
    if (mnl_attr_get_type(a) == NFTA_EXPR_DATA) data = a;
  });
  if (counter && data) add_counter_data(data, e.packets, e.bytes);
}

}  // namespace

std::optional<std::vector<uint8_t>> encode_set_key(const nft::Json& type, const nft::Json& key) {
  std::vector<uint8_t> out;
  if (type.is_string()) {
    if (!put_field(type.get<std::string>(), key, out)) return std::nullopt;
    return out;
  }
  if (!type.is_array() || !key.is_object() || !key.contains("concat") ||
      !key["concat"].is_array() || key["concat"].size() != type.size())
    return std::nullopt;
  for (size_t i = 0; i < type.size(); ++i) {
    if (!type[i].is_string() || !put_field(type[i].get<std::string>(), key["concat"][i], out))
      return std::nullopt;
    out.resize((out.size() + 3) / 4 * 4, 0);  // each field in whole 4-byte registers
  }
  return out;
}

std::vector<DumpedElement> decode_set_elements(std::span<const uint8_t> message) {
  std::vector<DumpedElement> out;
  auto copy = nftables_message(message);
  if (!copy) return out;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy->data());
  if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM) return out;
  each_attr(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)), mnl_nlmsg_get_payload_tail(nlh),
            [&](const nlattr* list) {
              if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS) return;
              each_nested(list, [&](const nlattr* elem) {
                if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM) return;
                DumpedElement e;
                each_nested(elem, [&](const nlattr* a) {
                  switch (mnl_attr_get_type(a)) {
                    case NFTA_SET_ELEM_KEY:
                      each_nested(a, [&](const nlattr* d) {
                        if (mnl_attr_get_type(d) != NFTA_DATA_VALUE) return;
                        const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(d));
                        e.key.assign(p, p + mnl_attr_get_payload_len(d));
                      });
                      break;
                    case NFTA_SET_ELEM_EXPR:  // one expression
                      add_counter(a, e);
                      break;
                    case NFTA_SET_ELEM_EXPRESSIONS:  // a list of them
                      each_nested(a, [&](const nlattr* x) {
                        if (mnl_attr_get_type(x) == NFTA_LIST_ELEM) add_counter(x, e);
                      });
                      break;
                    default:
                      break;
                  }
                });
                out.push_back(std::move(e));
              });
            });
  return out;
}

std::vector<DumpedElement> ElementCounterReader::read(const std::string& family,
                                                      const std::string& table,
                                                      const std::string& set) {
  std::vector<DumpedElement> out;
  dump_.run(
      "reading set " + family + " " + table + " " + set, NFT_MSG_GETSETELEM, family,
      [&](nlmsghdr* nlh) {
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set.c_str());
      },
      [&] { out.clear(); },
      [&](const nlmsghdr* nlh) {
        auto part = decode_set_elements(
            {reinterpret_cast<const uint8_t*>(nlh), static_cast<size_t>(nlh->nlmsg_len)});
        for (auto& e : part) out.push_back(std::move(e));
      });
  return out;
}

}  // namespace vmgw::backend
