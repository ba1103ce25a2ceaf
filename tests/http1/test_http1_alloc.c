#include <criterion/criterion.h>
TestSuite(http1_limits, .timeout = 60);
Test(http1_limits, placeholder) {}
