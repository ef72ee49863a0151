#include "filter/catalog.h"

#include <algorithm>
#include <set>
#include <variant>

namespace vmgw::filter {

namespace {

std::string filter_path(const Filter& f) {
  return "filter[name=" + f.name + "]";
}

std::string chain_text(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " -> ") + n;
  return out;
}

struct Walk {
  const std::map<std::string, std::shared_ptr<const Filter>, std::less<>>& filters;
  Diagnostics& out;
  std::set<std::string, std::less<>>& done;  // fully explored, shared across roots
  std::vector<std::string> stack;

  void visit(const Filter& f) {
    stack.push_back(f.name);
    int index = 0;
    for (const auto& e : f.entries) {
      const auto* ref = std::get_if<FilterRef>(&e);
      if (!ref) continue;
      ++index;
      Location where{f.file.path, ref->where.line, 0};
      std::string path = filter_path(f) + "/filterref[" + std::to_string(index) + "]";
      auto on_stack = std::find(stack.begin(), stack.end(), ref->filter);
      if (on_stack != stack.end()) {
        std::vector<std::string> loop(on_stack, stack.end());
        loop.push_back(ref->filter);
        out.push_back({where, path, "loop: " + chain_text(loop)});
        continue;
      }
      if (done.contains(ref->filter)) continue;
      auto it = filters.find(ref->filter);
      if (it == filters.end()) {
        std::vector<std::string> chain = stack;
        chain.push_back(ref->filter);
        out.push_back(
            {where, path, "unknown filter '" + ref->filter + "' (" + chain_text(chain) + ")"});
        continue;
      }
      visit(*it->second);
    }
    stack.pop_back();
    done.insert(f.name);
  }
};

}  // namespace

bool FilterCatalog::add_or_replace(Filter f) {
  std::string name = f.name;
  auto [it, inserted] =
      filters_.insert_or_assign(std::move(name), std::make_shared<const Filter>(std::move(f)));
  return !inserted;
}

bool FilterCatalog::remove(std::string_view name) {
  auto it = filters_.find(name);
  if (it == filters_.end()) return false;
  filters_.erase(it);
  return true;
}

const Filter* FilterCatalog::lookup(std::string_view name) const {
  auto it = filters_.find(name);
  return it == filters_.end() ? nullptr : it->second.get();
}

std::vector<std::string> FilterCatalog::names() const {
  std::vector<std::string> out;
  for (const auto& [n, f] : filters_) out.push_back(n);
  return out;
}

Diagnostics FilterCatalog::check_references(std::string_view name) const {
  Diagnostics out;
  const Filter* f = lookup(name);
  if (!f) {
    out.push_back({{}, "", "unknown filter '" + std::string(name) + "'"});
    return out;
  }
  std::set<std::string, std::less<>> done;
  Walk{filters_, out, done, {}}.visit(*f);
  return out;
}

Diagnostics FilterCatalog::check_all() const {
  Diagnostics out;
  std::set<std::string, std::less<>> done;
  for (const auto& [n, f] : filters_)
    if (!done.contains(n)) Walk{filters_, out, done, {}}.visit(*f);
  return out;
}

std::vector<std::string> FilterCatalog::users_of(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, f] : filters_)
    for (const auto& e : f->entries)
      if (const auto* ref = std::get_if<FilterRef>(&e); ref && ref->filter == name) {
        out.push_back(n);
        break;
      }
  return out;
}

}  // namespace vmgw::filter
