/* leak.c: kmemleak after patterns that leaked (the MSG_ZEROCOPY ones are in zerocopy_fixes.c). */
#include <unistd.h>

#include "kmemleak.h"
#include "vsc.h"
#include "vsc_sock.h"

/* Each round races one connect() against the close() of a fresh listener. */
#define ACCEPTQ_ROUNDS 100

static void acceptq_server(const struct vsc_env *env)
{
	vsc_kmemleak_begin();
	while (vsc_recv_value("round") != 0) {
		int listener = vsc_listen(SOCK_STREAM, env->port, ACCEPTQ_ROUNDS);

		vsc_signal("listening");
		/* A connection queued for accept() right now must be freed with the listener. */
		SAFE(close(listener));
	}
	vsc_kmemleak_expect_none(VSC_KMEMLEAK_VSOCK_SYMBOLS);
}

static void acceptq_client(const struct vsc_env *env)
{
	int round, established = 0, refused = 0;

	for (round = 0; round < ACCEPTQ_ROUNDS; round++) {
		int fd = SAFE(socket(AF_VSOCK, SOCK_STREAM, 0));

		vsc_send_value("round", 1);
		vsc_wait("listening");
		if (vsc_connect(fd, env->peer_cid, env->port) == 0)
			established++;
		else if (errno == ECONNRESET)
			refused++;
		else
			vsc_failed_at(__FILE__, __LINE__, 1, "connect() failed: %s",
				      vsc_errname(errno));
		SAFE(close(fd));
	}
	vsc_send_value("round", 0);
	vsc_diag("%d rounds: %d connects established, %d reset", ACCEPTQ_ROUNDS, established,
		 refused);
}
VSC_CASE(leak_accept_queue, .sock_type = SOCK_STREAM,
	 .summary = "connections queued on a listener as it closes are freed (kmemleak finds none)",
	 .server = acceptq_server, .client = acceptq_client, .needs = VSC_NEED_KMEMLEAK,
	 .timeout_s = 40,
	 .tags = VSC_TAGS("vsock_test 26", "virtio/vsock: Fix accept_queue memory leak",
			  "CVE-2024-53119"));
