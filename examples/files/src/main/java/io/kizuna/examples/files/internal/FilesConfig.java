package io.kizuna.examples.files.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the file transfer example (PID {@value FileReceiver#PID}). */
@ObjectClassDefinition(name = "Kizuna example: file transfer",
        description = "Receives files peers send with files:send")
@interface FilesConfig {

    @AttributeDefinition(name = "Folder",
            description = "Where received files are stored; a relative path is resolved against the node's home "
                    + "(kizuna.home, in Karaf the data folder). Empty: received/ there")
    String folder() default "";

    @AttributeDefinition(name = "Largest file (bytes)",
            description = "Larger offers are refused, and the sender is told this limit")
    long maxFileBytes() default FilesSettings.DEFAULT_MAX_FILE_BYTES;

    @AttributeDefinition(name = "Transfers at once",
            description = "Files received at the same time; further offers are refused as busy")
    int maxTransfers() default FilesSettings.DEFAULT_MAX_TRANSFERS;

    @AttributeDefinition(name = "Step timeout (ms)",
            description = "How long one read or write may wait for the peer before the transfer fails")
    int stepTimeoutMillis() default FilesSettings.DEFAULT_STEP_TIMEOUT_MILLIS;
}
