// toml++'s implementation, compiled once into vipd instead of loaded as libtomlplusplus.so.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
