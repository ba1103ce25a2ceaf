#include <criterion/criterion.h>
#include "ws_test_util.h"
TestSuite(stub_test_ws_deflate, .timeout = 10);
Test(stub_test_ws_deflate, nothing) {}
