#pragma once
// The Lua sources under src/store/lua/, embedded into the binary at build time (CMake reads each
// file into a generated lua_scripts.cpp), so no script path is needed at run time.
#include <string_view>

namespace anteroom::redis {

// The source of lua/<name>.lua, or an empty view if there is no such file.
std::string_view embedded_lua(std::string_view name);

}  // namespace anteroom::redis
