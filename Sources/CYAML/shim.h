/* Debian's libyaml-dev (pkg-config yaml-0.1): the event parser that TopologyDecoder's node tree is built from. */
#include <yaml.h>
