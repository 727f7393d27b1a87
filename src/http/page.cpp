#include <string>
#include <string_view>

#include "http/server.hpp"

namespace anteroom::http {

extern const std::string_view kPageHtml;  // generated from web/index.html

std::string render_page(std::string_view q) {
  // q is a validated queue name ([a-z0-9-]), safe to place in HTML and JS as is.
  static constexpr std::string_view kPlaceholder = "{{QUEUE}}";
  std::string out;
  out.reserve(kPageHtml.size() + 64);
  size_t i = 0;
  for (size_t j; (j = kPageHtml.find(kPlaceholder, i)) != std::string_view::npos;
       i = j + kPlaceholder.size()) {
    out.append(kPageHtml.substr(i, j - i));
    out.append(q);
  }
  out.append(kPageHtml.substr(i));
  return out;
}

}  // namespace anteroom::http
