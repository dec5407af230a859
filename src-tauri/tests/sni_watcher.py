#!/usr/bin/python3
"""A minimal StatusNotifierWatcher for the desktop end-to-end test.

Tray icons on Linux (libayatana-appindicator, used by Tauri's tray) register
with org.kde.StatusNotifierWatcher on the session bus; a desktop's panel
owns that name. Under Xvfb there is no panel, so this stands in for one: it
owns the name, accepts registrations and prints one line per item,
"REGISTERED <bus name> <object path>", so the test can read the item's
label and menu and click its entries over D-Bus like a panel would.
"""
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""
PATH = "/StatusNotifierWatcher"
items = []


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        (arg,) = params.unpack()
        # Items pass either a bus name or an object path of their own.
        obj = arg if arg.startswith("/") else "/StatusNotifierItem"
        name = sender if arg.startswith("/") else arg
        items.append(name + obj)
        print("REGISTERED", name, obj, flush=True)
        conn.emit_signal(None, PATH, "org.kde.StatusNotifierWatcher",
                         "StatusNotifierItemRegistered", GLib.Variant("(s)", (name + obj,)))
    invocation.return_value(None)


def on_get(conn, sender, path, iface, prop):
    if prop == "RegisteredStatusNotifierItems":
        return GLib.Variant("as", items)
    if prop == "IsStatusNotifierHostRegistered":
        return GLib.Variant("b", True)
    return GLib.Variant("i", 0)


def on_bus(conn, name):
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    conn.register_object(PATH, info, on_call, on_get, None)


def on_name(conn, name):
    print("WATCHER", name, flush=True)


def on_lost(conn, name):
    print("LOST", name, flush=True)
    sys.exit(1)


Gio.bus_own_name(Gio.BusType.SESSION, "org.kde.StatusNotifierWatcher",
                 Gio.BusNameOwnerFlags.NONE, on_bus, on_name, on_lost)
GLib.MainLoop().run()
