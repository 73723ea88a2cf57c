# The sources use iproute2 7.1.0's module interface; this turns them into
# 6.1's (Debian 12), for the 6.1 patch and the plugins of Debian 12's tc:
# the *_util callbacks take non-const utils, print_action_control() and
# print_tm() still take the FILE * (f in our callers) first.
s/const struct qdisc_util \*/struct qdisc_util */g
s/const struct action_util \*/struct action_util */g
s/\<print_action_control(/print_action_control(f, /g
s/\<print_tm(/print_tm(f, /g
