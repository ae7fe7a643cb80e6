// LoadYamlDocuments moved to yaml/load.h (the YAML layer below policy/ and config/); this name
// stays for the tests that include it.
#pragma once

#include "yaml/load.h"
