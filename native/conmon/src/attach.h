/* attach: the per-container attach endpoint, a SOCK_SEQPACKET unix socket at
 * <socket-dir>/<cuuid>/attach (a link to <bundle>/attach), as conmon serves
 * it. Every packet to a client is one prefix byte (2 stdout, 3 stderr) then
 * output; every packet from a client is raw stdin. A client that shuts down
 * its write side ends stdin unless --leave-stdin-open. A slow client gets a
 * bounded queue and is dropped past it; it never stalls logging.
 * Owner: native/conmon. */
#ifndef CM_ATTACH_H
#define CM_ATTACH_H

#include "loop.h"
#include "stream.h"

#include <stdbool.h>
#include <stddef.h>

struct attach_packet;
struct attach_client;

struct attach_server {
	int listen_fd;
	char *sock_path; /* <bundle>/attach, unlinked at exit */
	char *link_path; /* <socket-dir>/<cuuid>, NULL with --full-attach */
	struct loop *loop;
	struct watch w;
	struct attach_client *clients;
	bool input_paused;
	char *rbuf; /* allocated when the first client connects */
	/* Client input for the container's stdin, and a client's end of input. */
	void (*on_input)(void *ctx, const char *buf, size_t n);
	void (*on_input_eof)(void *ctx);
	void *ctx;
};

/* Inert state, so attach_shutdown is safe without attach_setup. */
void attach_init(struct attach_server *a);
/* Creates the link and the listening socket (before daemonizing, so a
 * failure is reported to the caller directly). */
int attach_setup(struct attach_server *a, const char *bundle, const char *socket_dir, const char *cuuid,
                 bool full_attach);
int attach_start(struct attach_server *a, struct loop *l);
/* Sends pkt[0..n] (pkt[0] is set to the stream byte) to every client. */
void attach_broadcast(struct attach_server *a, enum stream s, char *pkt, size_t n);
/* Stops or resumes reading client input (stdin backpressure). */
void attach_pause_input(struct attach_server *a, bool paused);
/* Frees clients closed during the last loop batch. */
void attach_reap(struct attach_server *a);
/* Closes every client and the socket, removes the socket and the link. */
void attach_shutdown(struct attach_server *a);

#endif
