/*
 * vsock-hostwrap: runs an unmodified program as the host peer of a guest on our vhost-user
 * device. The program's AF_VSOCK calls reach hostwrap through a seccomp user-notification
 * filter and become Unix-socket calls on the device's hybrid bridge; no AF_VSOCK socket is ever
 * made on this machine (its CID 2 is a foreign hypervisor's).
 *
 *   vsock-hostwrap --bridge UDS --guest-cid CID [--verbose] -- PROGRAM [ARGS...]
 *
 * Exit status: the program's, 128+N if signal N killed it; 126/127 if it could not be run (as
 * a shell says); 125 for hostwrap's own errors, each named on one line of stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calls.h"
#include "filter.h"
#include "loop.h"
#include "report.h"
#include "target.h"

/* Signals hostwrap passes on to the program (and SIGCHLD, which ends the run). */
static const int passed_on[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vsock-hostwrap --bridge UDS --guest-cid CID [--verbose] -- PROGRAM [ARGS...]\n"
		"Runs PROGRAM with its AF_VSOCK stream sockets carried by a vhost-user-vsock hybrid\n"
		"bridge: connect(CID, P) is \"CONNECT P\" on UDS; bind(P) + listen listens on UDS_P.\n"
		"  --bridge UDS      the device's hybrid bridge Unix socket for the guest\n"
		"  --guest-cid CID   the guest's CID (the only CID connect() reaches)\n"
		"  --verbose         one line on stderr per emulated call\n"
		"Exit status: PROGRAM's, 128+N if killed by signal N, 126/127 if it cannot be run,\n"
		"125 for vsock-hostwrap's own errors.\n");
}

static int parse_cid(const char *text, unsigned int *cid)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno || end == text || *end || value > 0xffffffffUL || text[0] == '-')
		return -1;
	*cid = (unsigned int)value;
	return 0;
}

/* The command line into hw_config: the index of PROGRAM in argv, or -1 (the reason printed). */
static int parse_options(int argc, char **argv)
{
	static const struct option options[] = {
		{ "bridge", required_argument, NULL, 'b' },
		{ "guest-cid", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bridge = NULL;
	int have_cid = 0, opt;

	opterr = 0;
	/* "+": options end at PROGRAM, whose own options are its own. */
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bridge = optarg;
			break;
		case 'c':
			if (parse_cid(optarg, &hw_config.guest_cid) != 0) {
				hw_note("--guest-cid: not a CID: '%s'", optarg);
				return -1;
			}
			have_cid = 1;
			break;
		case 'v':
			hw_config.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			hw_note("unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (!bridge || !have_cid || optind >= argc) {
		hw_note("%s is missing (see --help)", !bridge ? "--bridge UDS" :
			!have_cid ? "--guest-cid CID" : "PROGRAM");
		return -1;
	}
	/* "<UDS>_<port>" must fit too: keep room for "_4294967295". */
	if (strlen(bridge) + 12 > sizeof(hw_config.bridge.sun_path)) {
		hw_note("--bridge: '%s' is too long for a Unix socket path with its _<port>", bridge);
		return -1;
	}
	hw_config.bridge.sun_family = AF_UNIX;
	strcpy(hw_config.bridge.sun_path, bridge);
	return optind;
}

static int send_fd(int channel, int fd)
{
	char byte = 0, control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(channel, &msg, 0) == 1 ? 0 : -1;
}

static int receive_fd(int channel)
{
	char byte, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* In the child: the filter, its listener to the parent, then PROGRAM. Never returns. */
static void run_program(int channel, const sigset_t *old_mask, char **argv)
{
	int listener;

	/* hostwrap gone (even by SIGKILL): the program goes too, and leaves nothing behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigprocmask(SIG_SETMASK, old_mask, NULL);
	listener = filter_install();
	if (listener < 0)
		_exit(HW_OWN_ERROR);
	if (send_fd(channel, listener) != 0) {
		hw_own_error("passing the seccomp listener to hostwrap: %s", strerror(errno));
		_exit(HW_OWN_ERROR);
	}
	close(listener);
	close(channel);
	execvp(argv[0], argv);
	hw_note("cannot run %s: %s", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The exit status that reports the program's wait status. */
static int exit_status(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	sigset_t mask, old_mask;
	int program, channel[2], listener, signal_fd, status;
	pid_t child;
	size_t i;

	program = parse_options(argc, argv);
	if (program < 0 || target_check_support() != 0)
		return HW_OWN_ERROR;
	/* Blocked before fork(), so no SIGCHLD or SIGTERM comes before the signalfd sees it. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++)
		sigaddset(&mask, passed_on[i]);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (signal_fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
		hw_own_error("setting up: %s", strerror(errno));
		return HW_OWN_ERROR;
	}
	child = fork();
	if (child < 0) {
		hw_own_error("fork: %s", strerror(errno));
		return HW_OWN_ERROR;
	}
	if (child == 0)
		run_program(channel[1], &old_mask, argv + program);
	close(channel[1]);
	listener = receive_fd(channel[0]);
	close(channel[0]);
	if (listener < 0 || loop_check_support(listener) != 0) {
		/* The child said why, or we did; it never ran PROGRAM, or must not go on. */
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return HW_OWN_ERROR;
	}
	status = loop_run(listener, signal_fd, child);
	calls_unlink_listeners();
	if (status < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return HW_OWN_ERROR;
	}
	if (hw_had_own_error()) {
		hw_note("%s ended with status %d; exiting with %d for the errors above",
			argv[program], exit_status(status), HW_OWN_ERROR);
		return HW_OWN_ERROR;
	}
	return exit_status(status);
}
