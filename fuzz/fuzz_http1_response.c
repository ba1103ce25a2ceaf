/* Fuzz harness for the HTTP/1.1 response decoder: the request harness compiled for responses
 * (the request method, GET/HEAD/CONNECT/POST, is derived from the input). */
#define H1_FUZZ_RESPONSE 1
#include "fuzz_http1_request.c"
