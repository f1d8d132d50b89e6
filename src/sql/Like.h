#pragma once

#include <string_view>

namespace reka::sql {

/// SQL LIKE: '%' any run of characters, '_' one character (bytes), the rest literally.
bool likeMatch(std::string_view text, std::string_view pattern);

}  // namespace reka::sql
