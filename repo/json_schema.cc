// SPDX-License-Identifier: MIT

#include "repo/json_schema.h"

#include <regex>

namespace cairn::repo {
namespace {

using nlohmann::json;

constexpr size_t kMaxPatternInput = 1024;

std::string TypeOf(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool HasType(const json& v, const std::string& t) {
  const std::string got = TypeOf(v);
  return got == t || (t == "number" && got == "integer");
}

class Validator {
 public:
  Validator(const json& root, size_t max) : root_(root), max_(max) {}

  void Check(const json& schema, const json& v, const std::string& path, int depth = 0) {
    if (errors.size() >= max_) return;
    if (depth > 64) {
      Error(path, "the schema nests too deep");
      return;
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) Error(path, "nothing is allowed here");
      return;
    }
    if (!schema.is_object()) return;
    if (auto r = schema.find("$ref"); r != schema.end()) {
      const std::string ref = r->get<std::string>();
      const std::string prefix = "#/$defs/";
      if (ref.rfind(prefix, 0) == 0 && root_.contains("$defs") && root_["$defs"].contains(ref.substr(prefix.size()))) {
        Check(root_["$defs"][ref.substr(prefix.size())], v, path, depth + 1);
      } else {
        Error(path, "the schema's reference '" + ref + "' does not resolve");
      }
    }
    if (auto t = schema.find("type"); t != schema.end()) {
      bool ok = false;
      std::string want;
      if (t->is_string()) {
        ok = HasType(v, t->get<std::string>());
        want = t->get<std::string>();
      } else {
        for (const auto& x : *t) {
          ok = ok || HasType(v, x.get<std::string>());
          want += (want.empty() ? "" : " or ") + x.get<std::string>();
        }
      }
      if (!ok) {
        Error(path, "expected " + Article(want) + ", got " + Article(TypeOf(v)));
        return;
      }
    }
    if (auto c = schema.find("const"); c != schema.end() && *c != v) {
      Error(path, "expected " + c->dump() + ", got " + Short(v));
    }
    if (auto e = schema.find("enum"); e != schema.end()) {
      bool found = false;
      for (const auto& x : *e) found = found || x == v;
      if (!found) Error(path, "expected one of " + e->dump() + ", got " + Short(v));
    }
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      if (auto m = schema.find("minLength"); m != schema.end() && s.size() < m->get<size_t>()) {
        Error(path, "expected at least " + std::to_string(m->get<size_t>()) + " characters");
      }
      if (auto m = schema.find("maxLength"); m != schema.end() && s.size() > m->get<size_t>()) {
        Error(path, "expected at most " + std::to_string(m->get<size_t>()) + " characters");
      }
      if (auto p = schema.find("pattern"); p != schema.end()) {
        // std::regex recurses per character: a pattern is tried only on
        // strings of a length patterns are for.
        if (s.size() > kMaxPatternInput) {
          Error(path, "expected a string matching " + p->get<std::string>() + ", got one of " +
                          std::to_string(s.size()) + " characters");
        } else if (!std::regex_search(s, std::regex(p->get<std::string>(), std::regex::ECMAScript))) {
          Error(path, "expected a string matching " + p->get<std::string>() + ", got " + Short(v));
        }
      }
    }
    if (v.is_number()) {
      if (auto m = schema.find("minimum"); m != schema.end() && v.get<double>() < m->get<double>()) {
        Error(path, "expected at least " + m->dump() + ", got " + v.dump());
      }
      if (auto m = schema.find("maximum"); m != schema.end() && v.get<double>() > m->get<double>()) {
        Error(path, "expected at most " + m->dump() + ", got " + v.dump());
      }
    }
    if (v.is_array()) {
      if (auto m = schema.find("minItems"); m != schema.end() && v.size() < m->get<size_t>()) {
        Error(path, "expected at least " + std::to_string(m->get<size_t>()) + " items");
      }
      if (auto items = schema.find("items"); items != schema.end()) {
        for (size_t i = 0; i < v.size(); i++) Check(*items, v[i], path + "[" + std::to_string(i) + "]", depth + 1);
      }
    }
    if (v.is_object()) {
      if (auto req = schema.find("required"); req != schema.end()) {
        for (const auto& k : *req) {
          if (!v.contains(k.get<std::string>())) Error(Join(path, k.get<std::string>()), "missing");
        }
      }
      const json* props = schema.contains("properties") ? &schema["properties"] : nullptr;
      for (const auto& [k, x] : v.items()) {
        if (props != nullptr && props->contains(k)) {
          Check((*props)[k], x, Join(path, k), depth + 1);
        } else if (auto ap = schema.find("additionalProperties"); ap != schema.end()) {
          if (ap->is_boolean() && !ap->get<bool>()) {
            Error(Join(path, k), "not allowed here (no such field)");
          } else if (ap->is_object()) {
            Check(*ap, x, Join(path, k), depth + 1);
          }
        }
      }
    }
  }

  std::vector<std::string> errors;

 private:
  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string Article(const std::string& t) {
    return (t == "integer" || t == "object" || t == "array") ? "an " + t : "a " + t;
  }
  static std::string Short(const json& v) {
    std::string s = v.dump(-1, ' ', true, json::error_handler_t::replace);
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }
  void Error(const std::string& path, const std::string& what) {
    if (errors.size() < max_) errors.push_back((path.empty() ? "(root)" : path) + ": " + what);
  }

  const json& root_;
  size_t max_;
};

}  // namespace

std::vector<std::string> ValidateJson(const nlohmann::json& schema, const nlohmann::json& doc, size_t max_errors) {
  Validator v(schema, max_errors);
  v.Check(schema, doc, "");
  return v.errors;
}

}  // namespace cairn::repo
