#include <tapegrad/core/version.hpp>

#ifndef TAPEGRAD_VERSION
#error "TAPEGRAD_VERSION (the project version) is defined by CMakeLists.txt"
#endif

namespace tapegrad {

std::string version() {
  return TAPEGRAD_VERSION;
}

}  // namespace tapegrad
