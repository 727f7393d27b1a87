#include "support/json_util.hpp"

#include <cmath>

namespace anteroom::testing {
namespace {

std::optional<long long> AsInt(const boost::json::value* f) {
  if (f == nullptr) return std::nullopt;
  if (f->is_int64()) return f->as_int64();
  if (f->is_uint64()) return static_cast<long long>(f->as_uint64());
  if (f->is_double() && std::floor(f->as_double()) == f->as_double()) {
    return static_cast<long long>(f->as_double());
  }
  return std::nullopt;
}

}  // namespace

const boost::json::value* Field(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  return v.as_object().if_contains(key);
}

std::string Str(const boost::json::value& v, std::string_view key) {
  const auto* f = Field(v, key);
  if (f == nullptr || !f->is_string()) return "";
  return std::string(f->as_string());
}

std::optional<long long> Int(const boost::json::value& v, std::string_view key) {
  return AsInt(Field(v, key));
}

std::optional<double> Num(const boost::json::value& v, std::string_view key) {
  const auto* f = Field(v, key);
  if (f == nullptr) return std::nullopt;
  if (f->is_int64()) return static_cast<double>(f->as_int64());
  if (f->is_uint64()) return static_cast<double>(f->as_uint64());
  if (f->is_double()) return f->as_double();
  return std::nullopt;
}

std::optional<bool> Bool(const boost::json::value& v, std::string_view key) {
  const auto* f = Field(v, key);
  if (f == nullptr || !f->is_bool()) return std::nullopt;
  return f->as_bool();
}

const boost::json::value* Path(const boost::json::value& v,
                               std::initializer_list<std::string_view> keys) {
  const boost::json::value* cur = &v;
  for (auto k : keys) {
    cur = Field(*cur, k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::optional<long long> IntAt(const boost::json::value& v,
                               std::initializer_list<std::string_view> keys) {
  return AsInt(Path(v, keys));
}

}  // namespace anteroom::testing
