/* expectations.c: the one table of behaviour that differs between kernel versions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vsc_internal.h"

struct expectation {
	const char *behaviour;
	const char *from_kver;	/* the row holds from this version until the next row */
	int err;		/* 0: the call succeeds */
	const char *evidence;	/* where the value comes from */
};

/* Rows of one behaviour are in ascending version order; behaviours in alphabetical order. */
static const struct expectation table[] = {
	{ "addr_nonzero_svm_zero", "4.0", EINVAL,
	  "vsock_addr_validate() rejects svm_zero[0] != 0 (Debian's 5.10 sources)" },
	{ "addr_nonzero_svm_zero", "5.11", 0,
	  "vsock_addr_validate() checks svm_flags instead, ignores svm_zero (6.1, 6.12, 7.2)" },
	{ "addr_unknown_svm_flag", "4.0", 0,
	  "vsock_addr_validate() does not look at svm_flags (Debian's 5.10 sources)" },
	{ "addr_unknown_svm_flag", "5.11", EINVAL,
	  "vsock_addr_validate() refuses svm_flags bits but VMADDR_FLAG_TO_HOST (6.1, 6.12, 7.2)" },
	{ "bind_foreign_cid", "4.0", EADDRNOTAVAIL,
	  "__vsock_bind() rejects a CID that is neither local nor VMADDR_CID_ANY" },
	{ "connect_no_listener", "4.0", ECONNRESET,
	  "virtio_transport_reset_no_sock() answers the REQUEST with RST; seen on 5.10, 6.1, 6.12, 7.2" },
	{ "dev_vsock_unknown_ioctl", "4.0", EINVAL, "vsock_dev_do_ioctl() default case before 5.11" },
	{ "dev_vsock_unknown_ioctl", "5.11", ENOTTY,
	  "vsock: fix the error return when an invalid ioctl command is used (-ENOIOCTLCMD)" },
	{ "dgram_without_transport", "5.5", ENODEV,
	  "vsock_create() assigns the datagram transport at once; without vmci there is none" },
	{ "diag_request_short", "4.14", EINVAL,
	  "vsock_diag_handler_dump(): nlmsg_len < sizeof(struct vsock_diag_req); same in 5.10-7.2" },
	{ "diag_request_without_dump", "4.14", EOPNOTSUPP,
	  "vsock_diag_handler_dump() serves NLM_F_DUMP only; same in 5.10-7.2" },
	{ "hvsock_msg_peek", "4.0", ENOMEM,
	  "hvs_stream_dequeue() refuses MSG_PEEK with -EOPNOTSUPP, which vsock_stream_recvmsg() "
	  "turns into -ENOMEM (5.10, 6.1 sources)" },
	{ "hvsock_msg_peek", "6.4", EOPNOTSUPP,
	  "vsock: return errors other than -ENOMEM to socket: the -EOPNOTSUPP comes through (6.12, 7.2)" },
	{ "hvsock_oversized_packet", "4.0", ENOMEM,
	  "hvs_update_recv_data(): data_size > HVS_MTU_SIZE is -EIO, turned into -ENOMEM by "
	  "vsock_stream_recvmsg() (5.10, 6.1 sources)" },
	{ "hvsock_oversized_packet", "6.4", EIO,
	  "the same -EIO, passed through since \"vsock: return errors other than -ENOMEM to socket\" (6.12)" },
	{ "hvsock_oversized_packet", "6.17", ENOMEM,
	  "hv_sock: Return the readable bytes in hvs_stream_has_data(): the check runs in has_data, "
	  "whose error vsock_connectible_wait_data() turns into -ENOMEM (7.2 sources)" },
	{ "hvsock_read_at_fin", "4.0", 0,
	  "hvs_stream_has_data() answers 0 at the FIN packet: read() returns 0 (5.10, 6.1, 6.12 sources)" },
	{ "hvsock_read_at_fin", "6.17", ENOMEM,
	  "hv_sock: Return the readable bytes in hvs_stream_has_data() (f0c5827d07cb): data then FIN "
	  "in the ring makes has_data -EIO, which vsock_connectible_wait_data() turns into -ENOMEM" },
	{ "hvsock_read_at_fin", "7.1", 0,
	  "hv_sock: Report EOF instead of -EIO for FIN (f63152958994; stable 7.0.y, 6.18.y; 7.2 sources)" },
	{ "hvsock_short_packet", "4.0", 0,
	  "hvs_update_recv_data() checks data_size only against HVS_MTU_SIZE: the read copies what "
	  "follows the packet in the ring (5.10 sources)" },
	{ "hvsock_short_packet", "5.17", ENOMEM,
	  "hv_sock: Add validation for untrusted Hyper-V values: data_size beyond the packet is -EIO, "
	  "turned into -ENOMEM by vsock_stream_recvmsg() (6.1 sources)" },
	{ "hvsock_short_packet", "6.4", EIO,
	  "the same -EIO, passed through since \"vsock: return errors other than -ENOMEM to socket\" (6.12)" },
	{ "hvsock_short_packet", "6.17", ENOMEM,
	  "hv_sock: Return the readable bytes in hvs_stream_has_data(): the check runs in has_data, "
	  "whose error vsock_connectible_wait_data() turns into -ENOMEM (7.2 sources)" },
	{ "hvsock_so_rcvlowat", "4.0", 0,
	  "5.10's af_vsock has no set_rcvlowat hook: sock_setsockopt() takes SO_RCVLOWAT" },
	{ "hvsock_so_rcvlowat", "5.15", EOPNOTSUPP,
	  "hv_sock: disable SO_RCVLOWAT support (hvs_set_rcvlowat / hvs_notify_set_rcvlowat; 6.1, 6.12, 7.2)" },
	{ "nested_g2h_connect_unrouted_cid", "4.8", ETIMEDOUT,
	  "vhost_vsock_handle_tx_kick() drops a guest's packet unless dst_cid is the host's (2), "
	  "so nothing answers an L2 guest's REQUEST to another CID; same in 5.10-7.2" },
	{ "nested_h2g_connect_unheld_cid", "4.8", ENODEV,
	  "vhost_transport_send_pkt() finds no vhost_vsock with the CID: -ENODEV comes back "
	  "through virtio_transport_connect() to connect(); same in 5.10-7.2 while the connect goes "
	  "to vhost (7.2's net.vsock.g2h_fallback=1 sends it to the g2h transport instead)" },
	{ "recv_into_bad_buffer", "4.0", ENOMEM,
	  "vsock_stream_recvmsg(), __vsock_seqpacket_recvmsg() turn dequeue errors into -ENOMEM" },
	{ "recv_into_bad_buffer", "6.4", EFAULT,
	  "vsock: return errors other than -ENOMEM to socket (the receive half, 02ab696febab)" },
	{ "seqpacket_on_old_kernel", "4.0", ESOCKTNOSUPPORT,
	  "vsock_create() before 5.14 knows only STREAM and DGRAM" },
	{ "seqpacket_send_over_buffer_size", "5.14", ENOMEM,
	  "vsock_connectible_sendmsg() turns the transport's -EMSGSIZE into -ENOMEM" },
	{ "seqpacket_send_over_buffer_size", "6.3", EMSGSIZE,
	  "vsock: return errors other than -ENOMEM to socket (the send half, c43170b7e157)" },
	{ "socket_ioctl_siocinq", "4.0", EOPNOTSUPP,
	  "vsock_stream_ops.ioctl is sock_no_ioctl before 6.12" },
	{ "socket_ioctl_siocinq", "6.12", ENOTTY,
	  "vsock_do_ioctl() answers -ENOIOCTLCMD, which sock_do_ioctl() turns into ENOTTY" },
	{ "socket_ioctl_siocinq", "6.17", 0, "vsock: Add support for SIOCINQ ioctl" },
	{ "socket_ioctl_siocoutq", "4.0", EOPNOTSUPP,
	  "vsock_stream_ops.ioctl is sock_no_ioctl before 6.12" },
	{ "socket_ioctl_siocoutq", "6.12", 0,
	  "vsock: add support for SIOCOUTQ ioctl (net-next for 6.12)" },
};

int vsc_expected_errno(const char *behaviour)
{
	const struct expectation *found = NULL;
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].behaviour, behaviour) == 0 &&
		    vsc_kernel_at_least(table[i].from_kver))
			found = &table[i];
	if (!found) {
		char why[VSC_TEXT_MAX];

		snprintf(why, sizeof(why), "no expectation for \"%s\" on kernel %s", behaviour,
			 vsc_kernel_release());
		vsc_out("# [%s] %s", vsc_self.label, why);
		vsc_role_exit(VSC_BROKEN, why);
	}
	return found->err;
}

struct known_bug {
	const char *key;
	const char *from_kver;	/* the bug is present from this version ... */
	const char *fixed_kver;	/* ... up to, not including, this one */
	const char *fix;	/* the title of the commit that fixes it */
};

/* Kernel bugs our cases find in kernels that lack a fix; keys in alphabetical order. */
static const struct known_bug known_bugs[] = {
	/* The fix reached 6.1.y through stable; Debian's 5.10 (5.10.262) does not have it. */
	{ "port_reuse_after_shutdown", "4.0", "6.1",
	  "vsock/virtio: remove socket from connected/bound list on shutdown" },
	/* Mainline 6.7 and 6.6.14; 6.1.192 has no notify_set_rcvlowat, so the sender starves. */
	{ "rcvlowat_credit_update", "6.0", "6.6.14",
	  "virtio/vsock: send credit update during setting SO_RCVLOWAT" },
	/*
	 * 6.1's virtio_transport_stream_do_dequeue() takes a packet's bytes off rx_bytes only once
	 * the whole packet is read: a read ending inside a packet leaves rx_bytes too high, so
	 * poll() sees SO_RCVLOWAT met and no credit update goes out. 6.12 counts bytes read
	 * (dec_rx_pkt(bytes_read, bytes_dequeued)). The fixing commit is not identified yet: the
	 * text below names the behaviour, and 6.12 is the first version we saw it fixed in. Seen
	 * only where the sender's packets do not end where the reads do (our device in g2h).
	 */
	{ "rx_bytes_per_whole_packet", "6.1", "6.12",
	  "rx_bytes counted per byte read, not per whole packet (commit not identified; in 6.12)" },
	/* CVE-2026-23086: in 6.1.162 through stable, never backported to 5.10. */
	{ "tx_credit_uncapped", "4.0", "6.1.162", "vsock/virtio: cap TX credit to local buffer size" },
};

const char *vsc_known_bug(const char *key, int *unknown)
{
	static char reason[VSC_TEXT_MAX];
	size_t i;

	*unknown = 0;
	for (i = 0; i < sizeof(known_bugs) / sizeof(known_bugs[0]); i++) {
		const struct known_bug *bug = &known_bugs[i];

		if (strcmp(bug->key, key) != 0)
			continue;
		if (!vsc_kernel_at_least(bug->from_kver) || vsc_kernel_at_least(bug->fixed_kver))
			return NULL;
		snprintf(reason, sizeof(reason), "known bug before %s: missing \"%s\"",
			 bug->fixed_kver, bug->fix);
		return reason;
	}
	*unknown = 1;
	return NULL;
}
