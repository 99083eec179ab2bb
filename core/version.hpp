// The version of this tapegrad build, as the files nn::save writes record it
// ("tapegrad_version" in their model config).
#pragma once

#include <string>

namespace tapegrad {

// "0.1.0": the project version CMake gives the library.
std::string version();

}  // namespace tapegrad
