// Shared by the parser's translation units (document/filter, rules, references). Not installed.
#pragma once

#include <libxml/tree.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "filter/model.h"
#include "model/diagnostic.h"

namespace vmgw::filter::detail {

struct Ctx {
  std::string file;
  Diagnostics errors;

  void error(const xmlNode* at, std::string path, std::string reason);
};

std::string_view name_of(const xmlNode* n);
std::string_view name_of(const xmlAttr* a);
std::string value_of(const xmlAttr* a);
int line_of(const xmlNode* n);

// " (did you mean 'x'?)" when a close name exists, else "".
std::string did_you_mean(std::string_view name, std::span<const std::string_view> candidates);

// Reports non-blank text directly inside `parent` (elements here hold only elements).
void check_no_text(Ctx& ctx, const xmlNode* child, const std::string& path);

// Parses an integer priority within [kMinPriority, kMaxPriority].
std::optional<int> parse_priority(Ctx& ctx, const xmlNode* at, const std::string& path,
                                  std::string_view text);

std::optional<Rule> parse_rule(Ctx& ctx, const xmlNode* node, const std::string& path);
std::optional<FilterRef> parse_filterref(Ctx& ctx, const xmlNode* node, const std::string& path);

}  // namespace vmgw::filter::detail
