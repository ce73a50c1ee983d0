// Entry of the console's browser bundle: JsSIP (soft-phone) and the Socket.IO client, as globals.
import * as JsSIP from "jssip";
import { io } from "socket.io-client";

window.JsSIP = JsSIP.default || JsSIP;
window.io = io;
