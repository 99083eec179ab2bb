// Linked into every program `tapegrad run` builds (whole-archive, so this initializer is kept
// without a reference): an exception that escapes main is printed with its type and message,
// and the program exits with code 1, rather than aborting with "terminate called after
// throwing an instance of ...". Any other reason to terminate keeps the default handler.
#include <cxxabi.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <typeinfo>

namespace {

std::terminate_handler default_handler = nullptr;

std::string demangle(const char* name) {
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> readable(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 ? readable.get() : name;
}

// Type and message of the exception in flight.
std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type ? demangle(type->name()) : "an unknown exception";
  }
}

[[noreturn]] void report_uncaught() {
  const std::exception_ptr error = std::current_exception();
  if (!error) default_handler();
  std::cout.flush();
  std::cerr << program_invocation_name << ": error: " << describe(error) << std::endl;
  std::_Exit(1);
}

const bool installed = [] {
  default_handler = std::set_terminate(report_uncaught);
  return true;
}();

}  // namespace
