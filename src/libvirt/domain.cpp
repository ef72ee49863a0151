#include "libvirt/domain.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

namespace vmgw::libvirt {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string_view name_of(const xmlNode* n) {
  return reinterpret_cast<const char*>(n->name);
}

bool is(const xmlNode* n, std::string_view name) {
  return n->type == XML_ELEMENT_NODE && name_of(n) == name;
}

bool in_vmgw_namespace(const xmlNode* n) {
  return n->ns && n->ns->href && reinterpret_cast<const char*>(n->ns->href) == kMetadataNamespace;
}

std::optional<std::string> attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

std::string text(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  if (!v) return "";
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

template <typename F>
void children(const xmlNode* n, std::string_view name, F&& each) {
  for (const xmlNode* c = n->children; c; c = c->next)
    if (is(c, name)) each(c);
}

// Reads the interfaces and the metadata, or says where the XML is not what libvirt writes.
struct Reader {
  Domain d;
  std::string error;

  void fail(const std::string& where, const std::string& why) {
    if (error.empty()) error = where + ": " + why;
  }

  std::optional<Mac> mac_at(const std::optional<std::string>& text_value,
                            const std::string& where) {
    if (!text_value) {
      fail(where, "missing");
      return std::nullopt;
    }
    auto m = Mac::parse(*text_value);
    if (!m) fail(where, "'" + *text_value + "' is not a MAC address");
    return m;
  }

  FilterRef filterref(const xmlNode* n, const std::string& where) {
    FilterRef f;
    f.filter = attr(n, "filter").value_or("");
    if (f.filter.empty()) fail(where + "/@filter", "missing");
    children(n, "parameter", [&](const xmlNode* p) {
      auto name = attr(p, "name"), value = attr(p, "value");
      if (!name || !value)
        fail(where + "/parameter", "needs name and value");
      else
        f.params.emplace_back(*name, *value);
    });
    return f;
  }

  void interface(const xmlNode* n, size_t index) {
    const std::string where = "devices/interface[" + std::to_string(index) + "]";
    Interface i;
    bool has_mac = false;
    for (const xmlNode* c = n->children; c; c = c->next) {
      if (is(c, "mac")) {
        if (auto m = mac_at(attr(c, "address"), where + "/mac/@address")) i.mac = *m;
        has_mac = true;
      } else if (is(c, "source")) {
        i.bridge = attr(c, "bridge").value_or("");
      } else if (is(c, "target")) {
        i.device = attr(c, "dev").value_or("");
      } else if (is(c, "filterref")) {
        i.libvirt_filter = filterref(c, where + "/filterref");
      }
    }
    // libvirt gives every interface a MAC when it defines the domain; one without is not ours
    // to guess.
    if (!has_mac) fail(where + "/mac", "missing");
    d.interfaces.push_back(std::move(i));
  }

  void vmgw_interface(const xmlNode* n, size_t index) {
    const std::string where = "metadata/vmgw/interface[" + std::to_string(index) + "]";
    VmgwInterface v;
    if (auto m = mac_at(attr(n, "mac"), where + "/@mac")) v.mac = *m;
    v.name = attr(n, "name").value_or("");
    if (auto ip = attr(n, "ip")) {
      v.ip = Ipv4::parse(*ip);
      if (!v.ip) fail(where + "/@ip", "'" + *ip + "' is not an IPv4 address");
    }
    v.eip_pool = attr(n, "eip-pool");
    size_t i = 0;
    for (const xmlNode* c = n->children; c; c = c->next)
      if (is(c, "filterref") && in_vmgw_namespace(c))
        v.filters.push_back(filterref(c, where + "/filterref[" + std::to_string(++i) + "]"));
    d.vmgw.push_back(std::move(v));
  }

  void metadata(const xmlNode* n) {
    for (const xmlNode* c = n->children; c; c = c->next) {
      if (c->type != XML_ELEMENT_NODE || !in_vmgw_namespace(c)) continue;
      size_t i = 0;
      for (const xmlNode* e = c->children; e; e = e->next)
        if (is(e, "interface") && in_vmgw_namespace(e)) vmgw_interface(e, ++i);
    }
  }
};

}  // namespace

DomainXml parse_domain_xml(std::string_view xml) {
  DomainXml out;
  // No network, no entities: the XML comes from libvirt, but is still input.
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    out.error = "not well-formed XML";
    return out;
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || !is(root, "domain")) {
    out.error = "not a libvirt domain (the root element is not <domain>)";
    return out;
  }
  Reader r;
  size_t index = 0;
  for (const xmlNode* c = root->children; c; c = c->next) {
    if (is(c, "name")) r.d.name = text(c);
    if (is(c, "uuid")) r.d.uuid = text(c);
    if (is(c, "metadata")) r.metadata(c);
    if (is(c, "devices"))
      children(c, "interface", [&](const xmlNode* i) { r.interface(i, ++index); });
  }
  if (r.d.name.empty()) r.fail("name", "missing");
  if (r.d.uuid.empty()) r.fail("uuid", "missing");
  if (!r.error.empty()) {
    out.error = r.error;
    return out;
  }
  out.domain = std::move(r.d);
  return out;
}

}  // namespace vmgw::libvirt
