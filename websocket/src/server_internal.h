/* Private parts of the WebSocket server glue shared by its two files. */
#ifndef ASX_WS_SERVER_INTERNAL_H
#define ASX_WS_SERVER_INTERNAL_H

#include "asx/websocket_server.h"

/* server_handshake.c: answers the upgrade request. 0 with *hs accepted (101 written),
 * 1 refused (error response written), or a stream error. */
int ws_srv_handshake(asx_cx *cx, asx_stream *s, asx_http1_req *req,
                     const asx_ws_server_config *cfg, asx_ws_server_handshake *hs);

/* server_conn.c: runs the session (either role) and cfg->handler over an open connection. */
int ws_conn_run(asx_cx *cx, asx_stream *s, asx_ws_role role, const char *subprotocol,
                const asx_ws_deflate_params *deflate, const uint8_t *rest, size_t rest_len,
                const asx_ws_server_config *cfg);
/* server_conn.c: runs the session and the handler over an accepted connection. */
int ws_srv_run(asx_cx *cx, asx_stream *s, const asx_ws_server_handshake *hs, const uint8_t *rest,
               size_t rest_len, const asx_ws_server_config *cfg);

#endif
