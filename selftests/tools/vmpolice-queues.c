// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice-queues: ask the vmpolice module's generic netlink family for
 * every queue of one policer (VMPOLICE_CMD_QUEUE_GET, a dump), in the
 * caller's network namespace, and report what came back:
 *
 *   vmpolice-queues index N             an action
 *   vmpolice-queues dev IFNAME handle H a qdisc (H in hex, "1" for 1:)
 *   vmpolice-queues index N dev IFNAME handle H   (refused: both)
 *   vmpolice-queues                     (refused: neither)
 *
 * Output, one line: "queues Q messages M ids FIRST..LAST contiguous|gaps",
 * or on a refusal "error ERRNO: EXTACK-MESSAGE" (exit status 1).
 */

#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/tc_vmpolice.h>

#ifndef NLA_TYPE_MASK
#define NLA_TYPE_MASK	~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
#endif

static char buf[65536];

struct req {
	struct nlmsghdr		n;
	struct genlmsghdr	g;
	char			attrs[64];
};

static void put_u32(struct req *r, int type, __u32 v)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + sizeof(v);
	memcpy((char *)a + NLA_HDRLEN, &v, sizeof(v));
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* The first attribute of @type in [@a, @a + @len), or NULL. */
static struct nlattr *find(struct nlattr *a, int len, int type)
{
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		len -= NLA_ALIGN(a->nla_len);
		a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
	}
	return NULL;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* Send @r, return the first reply (or error) in buf, its length. */
static int talk(int fd, struct req *r)
{
	int len;

	if (send(fd, r, r->n.nlmsg_len, 0) < 0)
		die("send");
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0)
		die("recv");
	return len;
}

/* An error message: its errno and extack text; exits if an error. */
static void check_error(struct nlmsghdr *n)
{
	struct nlmsgerr *e = NLMSG_DATA(n);
	struct nlattr *msg = NULL;
	int off;

	if (n->nlmsg_type != NLMSG_ERROR && n->nlmsg_type != NLMSG_DONE)
		return;
	if (n->nlmsg_type == NLMSG_DONE) {
		int err;

		memcpy(&err, NLMSG_DATA(n), sizeof(err));
		if (!err)
			return;
		/* a refusal from a dump call: its message after the errno */
		if (n->nlmsg_flags & NLM_F_ACK_TLVS)
			msg = find((void *)((char *)NLMSG_DATA(n) +
					    NLMSG_ALIGN(sizeof(err))),
				   n->nlmsg_len - NLMSG_HDRLEN -
				   NLMSG_ALIGN(sizeof(err)),
				   NLMSGERR_ATTR_MSG);
		printf("error %d: %s\n", err,
		       msg ? (char *)msg + NLA_HDRLEN : "(no message)");
		exit(1);
	}
	if (!e->error)
		return;
	off = sizeof(*e);
	if (!(n->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (n->nlmsg_flags & NLM_F_ACK_TLVS)
		msg = find((void *)((char *)e + NLMSG_ALIGN(off)),
			   n->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(off),
			   NLMSGERR_ATTR_MSG);
	printf("error %d: %s\n", e->error,
	       msg ? (char *)msg + NLA_HDRLEN : "(no message)");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned int queues = 0, messages = 0, first = 0, last = 0;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct req r = { 0 };
	struct nlattr *a;
	struct nlmsghdr *n;
	bool gaps = false;
	int fd, one = 1, len, family, i;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("netlink socket");
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));

	/* the family's id */
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = GENL_ID_CTRL;
	r.n.nlmsg_flags = NLM_F_REQUEST;
	r.n.nlmsg_seq = 1;
	r.g.cmd = CTRL_CMD_GETFAMILY;
	r.g.version = 1;
	a = (void *)((char *)&r + r.n.nlmsg_len);
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(VMPOLICE_GENL_NAME);
	memcpy((char *)a + NLA_HDRLEN, VMPOLICE_GENL_NAME,
	       sizeof(VMPOLICE_GENL_NAME));
	r.n.nlmsg_len += NLA_ALIGN(a->nla_len);
	talk(fd, &r);
	n = (void *)buf;
	check_error(n);
	a = find((void *)((char *)NLMSG_DATA(n) + GENL_HDRLEN),
		 n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), CTRL_ATTR_FAMILY_ID);
	if (!a) {
		fprintf(stderr, "no family id\n");
		return 2;
	}
	family = *(__u16 *)((char *)a + NLA_HDRLEN);

	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r.n.nlmsg_type = family;
	r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.n.nlmsg_seq = 2;
	r.g.cmd = VMPOLICE_CMD_QUEUE_GET;
	r.g.version = VMPOLICE_GENL_VERSION;
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "index")) {
			put_u32(&r, VMPOLICE_A_ACT_INDEX,
				strtoul(argv[i + 1], NULL, 0));
		} else if (!strcmp(argv[i], "dev")) {
			unsigned int ifi = if_nametoindex(argv[i + 1]);

			put_u32(&r, VMPOLICE_A_IFINDEX,
				ifi ?: strtoul(argv[i + 1], NULL, 0));
		} else if (!strcmp(argv[i], "handle")) {
			put_u32(&r, VMPOLICE_A_HANDLE,
				strtoul(argv[i + 1], NULL, 16) << 16);
		} else {
			fprintf(stderr, "what is %s?\n", argv[i]);
			return 2;
		}
	}
	if (send(fd, &r, r.n.nlmsg_len, 0) < 0)
		die("send");
	for (;;) {
		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0)
			die("recv");
		for (n = (void *)buf; NLMSG_OK(n, len); n = NLMSG_NEXT(n, len)) {
			check_error(n);
			if (n->nlmsg_type == NLMSG_DONE)
				goto done;
			messages++;
			a = find((void *)((char *)NLMSG_DATA(n) + GENL_HDRLEN),
				 n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
				 VMPOLICE_A_QUEUES);
			if (!a)
				continue;
			for (struct nlattr *q = (void *)((char *)a + NLA_HDRLEN);
			     (char *)q < (char *)a + a->nla_len;
			     q = (void *)((char *)q + NLA_ALIGN(q->nla_len))) {
				struct nlattr *id;
				unsigned int v;

				if ((q->nla_type & NLA_TYPE_MASK) !=
				    TCA_VMPOLICE_QUEUE)
					continue;
				id = find((void *)((char *)q + NLA_HDRLEN),
					  q->nla_len - NLA_HDRLEN,
					  TCA_VMPOLICE_QUEUE_ID);
				if (!id || !find((void *)((char *)q + NLA_HDRLEN),
						 q->nla_len - NLA_HDRLEN,
						 TCA_VMPOLICE_QUEUE_STATS))
					continue;
				v = *(__u32 *)((char *)id + NLA_HDRLEN);
				if (!queues)
					first = v;
				else if (v != last + 1)
					gaps = true;
				last = v;
				queues++;
			}
		}
	}
done:
	printf("queues %u messages %u ids %u..%u %s\n", queues, messages,
	       first, last, gaps ? "gaps" : "contiguous");
	close(fd);
	return 0;
}
