/* Error names, the HTTP status a server answers each decoding error with, reason phrases and
 * method names. */
#include <string.h>

#include "asx/http1.h"

typedef struct error_info {
  const char *name;
  int status;
} error_info;

static const error_info errors[] = {
  [ASX_HTTP1_OK] = {"ASX_HTTP1_OK", 0},
  [ASX_HTTP1_ERR_TARGET_TOO_LONG] = {"ASX_HTTP1_ERR_TARGET_TOO_LONG", 414},
  [ASX_HTTP1_ERR_HEADERS_TOO_LARGE] = {"ASX_HTTP1_ERR_HEADERS_TOO_LARGE", 431},
  [ASX_HTTP1_ERR_TOO_MANY_HEADERS] = {"ASX_HTTP1_ERR_TOO_MANY_HEADERS", 431},
  [ASX_HTTP1_ERR_BODY_TOO_LARGE] = {"ASX_HTTP1_ERR_BODY_TOO_LARGE", 413},
  [ASX_HTTP1_ERR_CHUNK_EXT_TOO_LONG] = {"ASX_HTTP1_ERR_CHUNK_EXT_TOO_LONG", 400},
  [ASX_HTTP1_ERR_BAD_VERSION] = {"ASX_HTTP1_ERR_BAD_VERSION", 505},
  [ASX_HTTP1_ERR_UNSUPPORTED_TE] = {"ASX_HTTP1_ERR_UNSUPPORTED_TE", 501},
  [ASX_HTTP1_ERR_BAD_TE] = {"ASX_HTTP1_ERR_BAD_TE", 400},
  [ASX_HTTP1_ERR_CL_AND_TE] = {"ASX_HTTP1_ERR_CL_AND_TE", 400},
  [ASX_HTTP1_ERR_DUP_CONTENT_LENGTH] = {"ASX_HTTP1_ERR_DUP_CONTENT_LENGTH", 400},
  [ASX_HTTP1_ERR_BAD_CONTENT_LENGTH] = {"ASX_HTTP1_ERR_BAD_CONTENT_LENGTH", 400},
  [ASX_HTTP1_ERR_BAD_CHUNK] = {"ASX_HTTP1_ERR_BAD_CHUNK", 400},
  [ASX_HTTP1_ERR_OBS_FOLD] = {"ASX_HTTP1_ERR_OBS_FOLD", 400},
  [ASX_HTTP1_ERR_BAD_HEADER_NAME] = {"ASX_HTTP1_ERR_BAD_HEADER_NAME", 400},
  [ASX_HTTP1_ERR_BAD_HEADER_VALUE] = {"ASX_HTTP1_ERR_BAD_HEADER_VALUE", 400},
  [ASX_HTTP1_ERR_BAD_METHOD] = {"ASX_HTTP1_ERR_BAD_METHOD", 400},
  [ASX_HTTP1_ERR_BAD_TARGET] = {"ASX_HTTP1_ERR_BAD_TARGET", 400},
  [ASX_HTTP1_ERR_BAD_STATUS] = {"ASX_HTTP1_ERR_BAD_STATUS", 502},
  [ASX_HTTP1_ERR_SYNTAX] = {"ASX_HTTP1_ERR_SYNTAX", 400},
  [ASX_HTTP1_ERR_TRUNCATED] = {"ASX_HTTP1_ERR_TRUNCATED", 400},
  [ASX_HTTP1_ERR_CALLBACK] = {"ASX_HTTP1_ERR_CALLBACK", 500},
};

static const error_info *info(asx_http1_error e) {
  if ((unsigned)e >= sizeof errors / sizeof errors[0]) return NULL;
  return &errors[e];
}

int asx_http1_error_status(asx_http1_error e) {
  const error_info *i = info(e);
  return i ? i->status : 500;
}

const char *asx_http1_error_name(asx_http1_error e) {
  const error_info *i = info(e);
  return i ? i->name : "ASX_HTTP1_ERR_?";
}

const char *asx_http1_reason_phrase(int code) {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

asx_http1_method asx_http1_method_from_name(asx_slice name) {
  static const struct { const char *name; asx_http1_method m; } methods[] = {
    {"GET", ASX_HTTP1_GET}, {"HEAD", ASX_HTTP1_HEAD}, {"POST", ASX_HTTP1_POST},
    {"PUT", ASX_HTTP1_PUT}, {"DELETE", ASX_HTTP1_DELETE}, {"CONNECT", ASX_HTTP1_CONNECT},
    {"OPTIONS", ASX_HTTP1_OPTIONS}, {"TRACE", ASX_HTTP1_TRACE}, {"PATCH", ASX_HTTP1_PATCH},
  };
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    if (asx_slice_eq(name, methods[i].name)) return methods[i].m; /* methods are case-sensitive */
  }
  return ASX_HTTP1_OTHER;
}
